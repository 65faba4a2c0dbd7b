"""adapter_config.json through the same rules as Python (issue 12): recognition, positions in the
file, the rules that apply, fixes that keep every other byte, walking checkpoint folders."""
from __future__ import annotations

import json

import pytest

from cli_run import lint
from lint_rules.engine import fix_source, lint_source

PEFT = {"target-peft-version": "==0.21.2"}


def config(**fields) -> str:
    """An adapter_config.json as peft writes it (indent 2, sorted keys)."""
    base = {"base_model_name_or_path": "gpt2", "lora_alpha": 16, "peft_type": "LORA", "r": 8,
            "target_modules": ["c_attn"], "task_type": "CAUSAL_LM"}
    return json.dumps({**base, **fields}, indent=2, sort_keys=True) + "\n"


def found(text: str, select: list[str] | None = None, filename: str = "adapter_config.json", **settings):
    return [(v.code, v.location.row, v.location.column, v.end_location.row, v.end_location.column)
            for v in lint_source(text, filename=filename, settings={**PEFT, **settings}, select=select)]


def where(text: str, needle: str) -> tuple[int, int]:
    """1-based row and column of ``needle``; ``"key": `` finds where that key's value starts."""
    offset = text.index(needle) + (len(needle) if needle.endswith('": ') else 0)
    row = text.count("\n", 0, offset) + 1
    return row, offset - (text.rfind("\n", 0, offset) + 1) + 1


# -- per applicable rule: VALID and INVALID, with the position of the key or value ----------------

VALID = [
    ("LORA001", config()),
    ("LORA001", config(base_model_name_or_path="meta-llama/Llama-2-7b-hf", target_modules=["q_proj", "v_proj"])),
    ("LORA002", config(target_modules=["c_attn", "c_proj"])),
    ("LORA004", config(r=16, lora_alpha=32, lora_dropout=0.05, bias="none")),
    ("LORA006", config(layers_to_transform=[0, 11])),
    ("LORA012", config(base_model_name_or_path="Qwen/Qwen2.5-0.5B", target_modules=["q_proj", "v_proj"])),
    ("LORA201", config(r=8, lora_alpha=16)),
    ("LORA201", config(r=64, lora_alpha=16, use_rslora=True)),
    # a newer peft's keys are LORA104's, never LORA003/LORA101's
    ("LORA003", config(lora_bias=False, some_future_key=1)),
    ("LORA101", config(use_dora=True)),
]

INVALID = [
    ("LORA001", config(target_modules=["q_proj", "v_proj"]), '"target_modules": ', "no module of gpt2"),
    ("LORA002", config(target_modules=["c_attn", "q_proj"]), '"q_proj"', "q_proj"),
    ("LORA004", config(r=0), '"r": ', "`r=0` is not a positive integer"),
    ("LORA004", config(lora_dropout=1.5), '"lora_dropout": ', "outside [0, 1)"),
    ("LORA004", config(task_type="CAUSAL"), '"CAUSAL"', "did you mean `CAUSAL_LM`"),
    ("LORA006", config(base_model_name_or_path="meta-llama/Llama-2-7b-hf", target_modules=["q_proj"],
                       layers_to_transform=[24, 32]), '"layers_to_transform": ', "[32] select no layer"),
    ("LORA012", config(base_model_name_or_path="Qwen/Qwen2.5-0.5B", target_modules=["q_proj", "lm_head"]),
     '"lm_head"', "ties `lm_head`"),
    ("LORA201", config(r=64, lora_alpha=16), '"lora_alpha": ', "lora_alpha/r = 0.25"),
]


@pytest.mark.parametrize("code, text", VALID, ids=[f"{c}-{i}" for i, (c, _) in enumerate(VALID)])
def test_valid(code, text):
    assert found(text, [code]) == []


@pytest.mark.parametrize("code, text, at, message", INVALID, ids=[f"{c}-{i}" for i, (c, *_) in enumerate(INVALID)])
def test_invalid(code, text, at, message):
    violations = lint_source(text, filename="adapter_config.json", settings=PEFT, select=[code])
    assert [v.code for v in violations] == [code]
    violation = violations[0]
    assert message in violation.message
    row, column = where(text, at)
    assert (violation.location.row, violation.location.column) == (row, column), violation
    # the end is the end of what is pointed at (the value, or one element of a list)
    assert violation.end_location.row >= violation.location.row
    # a saved adapter's values are what its weights were trained with: never rewritten
    assert violation.fix is None
    assert fix_source(text, filename="adapter_config.json", settings=PEFT, select=[code], unsafe=True)[0] == text


def test_the_element_of_a_list_is_what_a_finding_points_at():
    text = config(target_modules=["c_attn", "q_proj"])
    (violation,) = lint_source(text, filename="adapter_config.json", settings=PEFT, select=["LORA002"])
    row, column = where(text, '"q_proj"')
    assert (violation.location.row, violation.location.column) == (row, column)
    assert (violation.end_location.row, violation.end_location.column) == (row, column + len('"q_proj"'))


def test_a_compact_config_on_one_line():
    text = '{"peft_type":"LORA","base_model_name_or_path":"gpt2","target_modules":["q_proj"],"r":8,"lora_alpha":16}'
    assert found(text, ["LORA001"]) == [("LORA001", 1, 71, 1, 81)]
    assert text[70:80] == '["q_proj"]'


# -- what is and is not an adapter config ----------------------------------------------------------

def test_recognised_by_content_whatever_its_name():
    text = config(target_modules=["q_proj"])
    assert [c for c, *_ in found(text, ["LORA001"], filename="saved/lora.json")] == ["LORA001"]


@pytest.mark.parametrize("text", [
    '{"name": "my-app", "version": "1.0.0"}',
    json.dumps({"peft_type": "IA3", "base_model_name_or_path": "gpt2", "target_modules": ["q_proj"]}),
    json.dumps([{"peft_type": "LORA", "target_modules": ["q_proj"]}]),
    "[1, 2, 3]",
])
def test_other_json_says_nothing(text):
    assert found(text, filename="data.json") == []
    # named adapter_config.json: another PEFT method's config is fine, a non-object is broken
    assert [c for c, *_ in found(text)] == ([] if text.startswith("{") else ["LORA000"])


def test_a_broken_adapter_config_is_lora000_and_other_json_is_left_alone():
    broken = config()[:-10]
    (violation,) = lint_source(broken, filename="ckpt/adapter_config.json")
    assert violation.code == "LORA000" and "not a valid adapter config" in violation.message
    assert lint_source(broken, filename="data.json") == []
    assert fix_source(broken, filename="adapter_config.json")[0] == broken


def test_a_key_written_twice_counts_once_as_json_reads_it():
    text = '{"peft_type": "LORA", "base_model_name_or_path": "gpt2", "target_modules": ["c_attn"],\n' \
           ' "target_modules": ["q_proj"]}'
    assert found(text, ["LORA001"]) == [("LORA001", 2, 20, 2, 30)]


# -- LORA104 and its fix ---------------------------------------------------------------------------

OLD = {"target-peft-version": "==0.13.2"}


def test_lora104_fix_removes_default_keys_and_keeps_every_other_byte():
    text = ('\ufeff{\r\n    "base_model_name_or_path" : "gpt2",\r\n    "eva_config":null ,\r\n'
            '    "lora_alpha": 16, "lora_bias": false,\r\n    "peft_type": "LORA",\r\n    "r": 8,\r\n'
            '    "use_dora": true,\r\n    "target_modules": ["c_attn"],\r\n    "exclude_modules": null\r\n}\r\n')
    violations = lint_source(text, filename="adapter_config.json", settings=OLD, select=["LORA104"])
    assert [(v.location.row, v.message.split("`")[1], v.fix is not None) for v in violations] == [
        (3, "eva_config", True), (4, "lora_bias", True), (9, "exclude_modules", True)]
    fixed, left = fix_source(text, filename="adapter_config.json", settings=OLD, select=["LORA104"])
    assert left == []
    assert fixed == ('\ufeff{\r\n    "base_model_name_or_path" : "gpt2",\r\n    '
                     '"lora_alpha": 16, "peft_type": "LORA",\r\n    "r": 8,\r\n'
                     '    "use_dora": true,\r\n    "target_modules": ["c_attn"]\r\n}\r\n')
    assert json.loads(fixed.lstrip("\ufeff"))["use_dora"] is True


def test_lora104_leaves_a_key_that_changes_the_adapter():
    text = config(use_dora=True, lora_bias=True)
    (violation,) = lint_source(text, filename="adapter_config.json", settings=OLD, select=["LORA104"])
    assert "`lora_bias`" in violation.message and violation.fix is None
    assert fix_source(text, filename="adapter_config.json", settings=OLD, select=["LORA104"])[0] == text


def test_lora104_severity_follows_the_loading_peft():
    text = config(target_parameters=["mlp.experts.gate_up_proj"])
    strict = lint_source(text, filename="adapter_config.json", settings={"target-peft-version": ">=0.13,<0.17"},
                         select=["LORA104"])
    lenient = lint_source(text, filename="adapter_config.json", settings={"target-peft-version": ">=0.14,<0.17"},
                          select=["LORA104"])
    assert [v.severity for v in strict] == ["error"] and [v.severity for v in lenient] == ["warning"]
    assert "cannot load it" in strict[0].message and "drop it with only a warning" in strict[0].message
    configured = lint_source(text, filename="adapter_config.json", select=["LORA104"],
                             settings={"target-peft-version": ">=0.14,<0.17", "severity": {"LORA104": "info"}})
    assert [v.severity for v in configured] == ["info"]
    assert found(config(lora_bias=False), ["LORA104"], **{"target-peft-version": ">=0.14"}) == []


def test_python_code_is_not_lora104s():
    source = "from peft import LoraConfig\n\nLoraConfig(r=8, lora_alpha=16, lora_bias=False)\n"
    assert [v.code for v in lint_source(source, settings=OLD)] == ["LORA101"]


# -- the command line: walking, every output format, --fix ----------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.lora-lint]\ntarget-peft-version = "==0.13.2"\n')
    checkpoint = tmp_path / "out" / "checkpoint-500"
    checkpoint.mkdir(parents=True)
    (checkpoint / "adapter_config.json").write_text(config(lora_bias=False, target_modules=["q_proj"]))
    (tmp_path / "data.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["q_proj"],
                                                    "base_model_name_or_path": "gpt2"}))
    (tmp_path / "package.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_walk_finds_adapter_configs_in_checkpoint_folders_only(project, capsys):
    code, out, _ = lint(capsys, ".", "--output-format", "concise")
    lines = out.splitlines()
    assert code == 1 and len(lines) == 2, out
    assert lines[0].startswith("out/checkpoint-500/adapter_config.json:4:3: LORA104 [*] ")
    assert lines[1].startswith("out/checkpoint-500/adapter_config.json:7:21: LORA001 ")
    assert "data.json" not in out and "package.json" not in out  # not walked (named: read)
    code, out, _ = lint(capsys, "data.json", "--output-format", "concise")
    assert code == 1 and out.startswith("data.json:1:")


@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "full"])
def test_positions_in_every_output_format(project, capsys, fmt):
    code, out, _ = lint(capsys, "out", "--output-format", fmt, "--select", "LORA001")
    assert code == 1
    if fmt == "json":
        (item,) = json.loads(out)
        assert (item["location"]["row"], item["location"]["column"]) == (7, 21)
        assert item["filename"].endswith("adapter_config.json")
    elif fmt == "sarif":
        region = json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (7, 21)
    elif fmt == "github":
        assert "line=7,col=21,endLine=9,endColumn=4" in out and "adapter_config.json" in out
    else:
        assert "adapter_config.json:7:21: LORA001" in out and '"q_proj"' in out


def test_fix_on_the_command_line(project, capsys):
    path = project / "out" / "checkpoint-500" / "adapter_config.json"
    before = path.read_text()
    code, out, _ = lint(capsys, "--fix", "out")
    assert path.read_text() == before.replace('  "lora_bias": false,\n', "")
    assert code == 1 and "LORA001" in out and "LORA104" not in out
