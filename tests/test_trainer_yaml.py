"""axolotl and LLaMA-Factory YAML through the same rules as Python (issue 12): recognition by
content, the framework's keys mapped to peft's, positions of keys, values and list elements, fixes
that keep every other byte (comments included), walking, every output format, pytest --lora-check."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import lint
from lint_rules.engine import fix_source, lint_source

PEFT = {"target-peft-version": "==0.21.2"}
EXAMPLES = Path(__file__).parent / "data" / "trainer_yaml"


def axolotl(body: str, model: str = "microsoft/Phi-3-mini-4k-instruct") -> str:
    return f"base_model: {model}\n# LoRA\nadapter: lora\n{body}micro_batch_size: 2\n"


def llamafactory(body: str, model: str = "gpt2") -> str:
    return f"### model\nmodel_name_or_path: {model}\n\n### method\nstage: sft\nfinetuning_type: lora\n{body}"


def found(text: str, select=None, filename: str = "train.yaml", **settings):
    return [(v.code, v.location.row, v.location.column)
            for v in lint_source(text, filename=filename, settings={**PEFT, **settings}, select=select)]


def at(text: str, needle: str) -> tuple[int, int]:
    offset = text.index(needle)
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


# -- per applicable rule, for each framework: VALID and INVALID (with where the finding points) ----

VALID = [
    ("LORA001", axolotl("lora_r: 16\nlora_alpha: 32\nlora_target_modules:\n  - qkv_proj\n  - o_proj\n")),
    ("LORA001", axolotl("lora_r: 16\nlora_alpha: 32\nlora_target_linear: true\n")),
    # every linear layer is added to what is named: the names do not decide
    ("LORA001", axolotl("lora_target_linear: true\nlora_target_modules:\n  - q_proj\n")),
    ("LORA001", llamafactory("lora_target: c_attn\n")),
    ("LORA001", llamafactory("lora_target: all\n", model="meta-llama/Llama-2-7b-hf")),
    # continuing a saved adapter: its adapter_config.json decides the targets
    ("LORA001", llamafactory("lora_target: q_proj\nadapter_name_or_path: saves/gpt2/lora\n")),
    ("LORA001", axolotl("lora_model_dir: ./out\nlora_target_modules: [q_proj]\n")),
    ("LORA004", axolotl("lora_r: 16\nlora_alpha: 32\nlora_dropout: 0.05\n")),
    ("LORA006", axolotl("lora_target_modules: [qkv_proj]\npeft_layers_to_transform: [0, 31]\n")),
    ("LORA012", axolotl("lora_target_modules: [q_proj, v_proj]\n", model="Qwen/Qwen2.5-0.5B")),
    ("LORA201", axolotl("lora_r: 16\nlora_alpha: 32\n")),
    ("LORA201", axolotl("lora_r: 16\n")),  # axolotl's own default alpha: unknown here
    ("LORA201", llamafactory("lora_rank: 16\n")),  # LLaMA-Factory's default alpha is 2 x rank
    ("LORA201", axolotl("lora_r: 64\nlora_alpha: 16\npeft_use_rslora: true\n")),
    # a regex names whole paths, which depend on the class that loads the model (axolotl's Qwen2-VL example)
    ("LORA001", axolotl("lora_target_modules: 'model.language_model.layers.[\\d]+.self_attn.(q|v)_proj'\n",
                        model="Qwen/Qwen2-VL-7B-Instruct")),
    # keys of the framework's own are its business
    ("LORA003", axolotl("lora_r: 8\nlora_alpha: 16\nlora_mlp_kernel: true\nsome_new_key: 1\n")),
]

INVALID = [
    # a block list: from its first "-"
    ("LORA001", axolotl("lora_r: 16\nlora_alpha: 32\nlora_target_modules:\n  - q_proj\n  - k_proj\n  - v_proj\n"),
     "- q_proj", "qkv_proj", 0),
    ("LORA001", axolotl("lora_target_modules: [q_proj, v_proj]\n"), "[q_proj", "qkv_proj", 0),
    ("LORA001", llamafactory("lora_target: q_proj,v_proj\n"), "q_proj,v_proj", "c_attn", 0),
    ("LORA002", axolotl("lora_target_modules:\n  - qkv_proj\n  - v_proj\n"), "- v_proj", "v_proj", 2),
    ("LORA002", llamafactory("lora_target: c_attn,q_proj\n"), "q_proj", "q_proj", 0),
    ("LORA004", axolotl("lora_r: 16\nlora_alpha: 32\nlora_dropout: 1.5\n"), "1.5", "outside [0, 1)", 0),
    ("LORA004", llamafactory("lora_rank: 0\nlora_alpha: 16\n"), "0\n", "not a positive integer", 0),
    ("LORA006", axolotl("lora_target_modules: [qkv_proj]\npeft_layers_to_transform: [0, 32]\n"),
     "[0, 32]", "[32] select no layer", 0),
    ("LORA012", axolotl("lora_target_modules: [q_proj, lm_head]\n", model="Qwen/Qwen2.5-0.5B"),
     "lm_head", "ties `lm_head`", 0),
    ("LORA201", axolotl("lora_r: 16\nlora_alpha: 16\n"), "16\nmicro", "lora_alpha/r = 1", 0),
    ("LORA201", llamafactory("lora_rank: 64\nlora_alpha: 16\n"), "16", "lora_alpha/r = 0.25", 0),
    ("LORA101", axolotl("lora_r: 8\nlora_alpha: 16\npeft_use_dora: true\n"), "peft_use_dora", "use_dora", 0),
]


@pytest.mark.parametrize("code, text", VALID, ids=[f"{c}-{i}" for i, (c, _) in enumerate(VALID)])
def test_valid(code, text):
    assert found(text, [code]) == []


@pytest.mark.parametrize("code, text, needle, message, shift", INVALID,
                         ids=[f"{c}-{i}" for i, (c, *_) in enumerate(INVALID)])
def test_invalid(code, text, needle, message, shift):
    """``needle``: where the finding starts, ``shift`` columns on (an element after its "- ")."""
    settings = {**PEFT, **({"target-peft-version": ">=0.8"} if code == "LORA101" else {})}
    violations = lint_source(text, filename="train.yml", settings=settings, select=[code])
    assert [v.code for v in violations] == [code], violations
    assert message in violations[0].message
    row, column = at(text, needle)
    column += shift
    assert (violations[0].location.row, violations[0].location.column) == (row, column), violations[0]


def test_recognised_by_content_not_by_name():
    text = axolotl("lora_target_modules: [q_proj]\n")
    assert [c for c, *_ in found(text, ["LORA001"], filename="configs/phi3-recipe.yml")] == ["LORA001"]
    assert found(text.replace("adapter: lora", "adapter: ia3"), ["LORA001"]) == []
    assert found(text.replace("base_model:", "base_model_config:"), ["LORA001"]) == []
    assert found(llamafactory("lora_target: q_proj\n").replace("finetuning_type: lora", "finetuning_type: full"),
                 ["LORA001"]) == []


@pytest.mark.parametrize("text", [
    "on:\n  push:\n    branches: [main]\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
    "adapter: lora\n{{ templated }}: [\n",  # not YAML, but no model key line either: a template
    "- adapter: lora\n  base_model: gpt2\n",
    "",
])
def test_other_yaml_says_nothing(text):
    assert [c for c, *_ in found(text)] == ([] if "base_model" in text or "{{" not in text else ["LORA000"])


def test_a_broken_trainer_config_is_lora000():
    text = "base_model: gpt2\nadapter: lora\nlora_target_modules: [q_proj\n"
    (violation,) = lint_source(text, filename="train.yaml")
    assert violation.code == "LORA000" and "not valid YAML" in violation.message
    assert fix_source(text, filename="train.yaml", unsafe=True)[0] == text


# -- fixes: the value rewritten in place, everything else byte for byte --------------------------

def test_fix_rewrites_a_block_list_and_keeps_comments():
    text = ("base_model: microsoft/Phi-3-mini-4k-instruct  # the model\r\nadapter: lora\r\n"
            "lora_target_modules:   # attention\r\n  - q_proj\r\n  - k_proj  # keys\r\n  - v_proj\r\n"
            "# after the list\r\nlora_r: 8\r\nlora_alpha: 16\r\n")
    fixed, left = fix_source(text, filename="train.yaml", settings=PEFT, select=["LORA001"], unsafe=True)
    assert left == []
    assert fixed == text.replace("  - q_proj\r\n  - k_proj  # keys\r\n  - v_proj", "  [qkv_proj]")


def test_fix_rewrites_a_comma_separated_target_and_an_alpha():
    text = llamafactory("lora_rank: 16\nlora_alpha: 8   # scale\nlora_target: 'q_proj,v_proj'\n")
    fixed, left = fix_source(text, filename="train.yaml", settings=PEFT, unsafe=True)
    assert [v.code for v in left] == []
    assert fixed == text.replace("'q_proj,v_proj'", "c_attn").replace("lora_alpha: 8 ", "lora_alpha: 32 ")


@pytest.mark.parametrize("text", [
    "targets: &t [q_proj, v_proj]\nbase_model: microsoft/Phi-3-mini-4k-instruct\nadapter: lora\n"
    "lora_target_modules: *t\n",
    "base: &b\n  lora_target_modules: [q_proj, v_proj]\nrun:\n  x: 1\n<<: *b\n"
    "base_model: microsoft/Phi-3-mini-4k-instruct\nadapter: lora\n",
])
def test_a_value_shared_through_an_anchor_is_reported_but_not_rewritten(text):
    (violation,) = lint_source(text, filename="t.yaml", settings=PEFT, select=["LORA001"])
    assert violation.fix is None
    assert fix_source(text, filename="t.yaml", settings=PEFT, unsafe=True)[0] == text


def test_no_fix_where_the_value_is_not_written():
    text = llamafactory("lora_target: c_attn\nlora_rank: 16\n")
    (violation,) = lint_source(text, filename="t.yaml", settings={**PEFT, "alpha-ratio": 4}, select=["LORA201"])
    assert violation.location.row == at(text, "finetuning_type")[0]  # the alpha LLaMA-Factory derives
    assert violation.fix is None
    assert fix_source(text, filename="t.yaml", settings={**PEFT, "alpha-ratio": 4}, unsafe=True)[0] == text


# -- real examples (copied with their source noted in tests/data/trainer_yaml/SOURCES.md) ------------

REAL = sorted(p.name for p in EXAMPLES.glob("*.y*ml"))


@pytest.mark.parametrize("name", REAL)
def test_real_examples_have_no_error(name):
    text = (EXAMPLES / name).read_text()
    assert [v for v in lint_source(text, filename=name, settings=PEFT) if v.severity == "error"] == []


def test_the_phi3_recipe_with_llama_names_is_caught():
    """The true bug of the issue: a Phi-3 recipe naming q_proj/k_proj/v_proj (Phi-3 fuses them: qkv_proj)."""
    real = (EXAMPLES / "axolotl-phi-lora-3.5.yaml").read_text()
    text = real.replace("lora_target_linear: true\n", "lora_target_modules:\n  - q_proj\n  - k_proj\n  - v_proj\n")
    assert text != real
    (violation,) = [v for v in lint_source(text, filename="phi3.yaml", settings=PEFT) if v.code == "LORA001"]
    assert "qkv_proj" in violation.message and "from base_model" in violation.message


# -- the command line and pytest --lora-check ----------------------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.lora-lint]\ntarget-peft-version = "==0.21.2"\n')
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "phi3.yml").write_text(axolotl("lora_target_modules:\n  - q_proj\n  - v_proj\n"))
    (tmp_path / ".github").mkdir()
    (tmp_path / "ci.yaml").write_text("on: push\njobs: {}\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: {{ broken\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_walk_lints_trainer_configs_only(project, capsys):
    code, out, _ = lint(capsys, ".", "--output-format", "concise")
    assert code == 1 and out.splitlines() == [out.splitlines()[0]] and out.startswith("configs/phi3.yml:5:3: LORA001")


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "full"])
def test_positions_in_every_output_format(project, capsys, fmt):
    code, out, _ = lint(capsys, "configs", "--output-format", fmt)
    assert code == 1
    if fmt == "json":
        (item,) = json.loads(out)
        assert (item["location"]["row"], item["location"]["column"], item["end_location"]["row"]) == (5, 3, 6)
    elif fmt == "sarif":
        region = json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (5, 3)
    elif fmt == "github":
        assert "file=configs/phi3.yml,line=5,col=3" in out
    else:
        assert "configs/phi3.yml:5:3: LORA001" in out and "  - q_proj" in out


def test_fix_on_the_command_line(project, capsys):
    path = project / "configs" / "phi3.yml"
    before = path.read_text()
    assert lint(capsys, "--fix", "--unsafe-fixes", ".")[0] == 0
    assert path.read_text() == before.replace("  - q_proj\n  - v_proj", "  [qkv_proj]")


def test_pytest_lora_check_collects_trainer_configs(pytester):
    pytester.makefile(".yml", phi3=axolotl("lora_target_modules: [q_proj, v_proj]\n"))
    pytester.makefile(".yaml", ci="on: push\n")
    pytester.makepyprojecttoml('[tool.lora-lint]\ntarget-peft-version = "==0.21.2"\n')
    result = pytester.runpytest_inprocess("--lora-check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*phi3.yml:4:22: LORA001*"])


# -- new tokens (LORA008): what each framework lets through ----------------------------------------

def test_new_tokens_are_judged_with_only_lora008_selected():
    text = axolotl("tokens: ['<tool>']\nlora_modules_to_save: [embed_tokens, lm_head]\n", model="gpt2")
    assert found(text, select=["LORA008"]) == [("LORA008", 5, 23)]  # GPT-2's input embedding is `wte`


def test_new_tokens_keys_of_each_framework():
    from lint_rules.sources.trainer_yaml import added_tokens

    assert added_tokens("axolotl", {"tokens": ["<a>"], "special_tokens": {"additional_special_tokens": ["<b>"]}}) \
        == ("tokens", "special_tokens.additional_special_tokens")
    assert added_tokens("axolotl", {"special_tokens": {"eos_token": "</s>"}, "tokens": []}) == ()
    assert added_tokens("llamafactory", {"add_tokens": "<a>", "new_special_tokens": "<b>,<c>",
                                         "resize_vocab": True}) == ("add_tokens", "new_special_tokens", "resize_vocab")
    # LLaMA-Factory refuses resize_vocab on a quantized model itself
    assert added_tokens("llamafactory", {"resize_vocab": True, "quantization_bit": 4}) == ()


def test_llamafactory_saves_the_resized_embeddings_unless_additional_target_is_given():
    text = llamafactory("lora_target: q_proj,v_proj\nadd_special_tokens: <tool>\n", model="meta-llama/Llama-2-7b-hf")
    assert found(text, select=["LORA008"]) == []
    assert found(text + "additional_target: embed_tokens,lm_head\n", select=["LORA008"]) == []
    assert found(text + "additional_target: embed_tokens\n", select=["LORA008"]) == [("LORA008", 9, 20)]
    quantized = llamafactory("resize_vocab: true\nquantization_bit: 4\nadditional_target: lm_head\n")
    assert found(quantized, select=["LORA008"]) == []
