"""Following configs and models through real code (issue 9, item 3): reaching definitions,
helper functions, default parameters and the project's own modules."""
from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from lint_rules import consulted
from lint_rules.analysis import collect_calls
from lint_rules.analysis.flow import Point, reaching
from lint_rules.analysis.index import FileIndex
from lint_rules.engine import lint_source
from lint_rules.rule import RuleContext

HEAD = "from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
LLAMA = "meta-llama/Llama-2-7b-hf"


def findings(source: str, filename: str = "<stdin>") -> list[tuple[str, int, str]]:
    """(code, line, message) of the target-module rules, lines counted after HEAD."""
    found = lint_source(HEAD + textwrap.dedent(source), filename=filename, select=["LORA001", "LORA002"])
    return [(v.code, v.location.row - 2, v.message) for v in found]


def models_by_line(source: str, filename: str = "t.py") -> dict[int, list[str]]:
    """For each LoraConfig call (by its line after HEAD), the names of the models it is applied to."""
    module = cst.parse_module(HEAD + textwrap.dedent(source))
    wrapper = cst.MetadataWrapper(module)
    from libcst.metadata import PositionProvider

    positions = wrapper.resolve(PositionProvider)
    calls = collect_calls(wrapper, RuleContext(filename, "", "test", ("0.17.0",)))
    return {positions[c.node].start.line - 2: sorted(m.name for m in c.models) for c in calls if c.origin is None}


# -- the reproducers of the issue ------------------------------------------------------

def test_a_config_name_bound_twice_keeps_each_config_and_its_model():
    found = findings(f"""
        model = AutoModelForCausalLM.from_pretrained("{LLAMA}")
        config = LoraConfig(target_modules=["q_proj", "w1"])
        a = get_peft_model(model, config)
        config = LoraConfig(target_modules=["q_proj"])
        b = get_peft_model(model, config)
    """)
    assert [(code, line) for code, line, _ in found] == [("LORA002", 3)]
    assert "['w1']" in found[0][2] and LLAMA in found[0][2]


def test_configs_chosen_in_branches_are_each_checked_against_the_model():
    found = findings(f"""
        model = AutoModelForCausalLM.from_pretrained("{LLAMA}")
        if small:
            config = LoraConfig(target_modules=["q_proj", "w1"])
        else:
            config = LoraConfig(target_modules=["c_attn"])
        model = get_peft_model(model, config)
    """)
    assert [(code, line) for code, line, _ in found] == [("LORA002", 4), ("LORA001", 6)]


def test_a_model_name_chosen_in_branches_reports_the_config_against_the_model_it_misses():
    source = f"""
        if small:
            name = "gpt2"
        else:
            name = "{LLAMA}"
        model = AutoModelForCausalLM.from_pretrained(name)
        model = get_peft_model(model, LoraConfig(target_modules=["q_proj", "v_proj"]))
    """
    assert models_by_line(source) == {7: ["gpt2", LLAMA]}
    found = findings(source)
    assert [(code, line) for code, line, _ in found] == [("LORA001", 7)]
    assert "no module of gpt2" in found[0][2]
    assert "target_modules=" in found[0][2]


def test_one_config_for_several_models_is_never_fixed_for_one_of_them():
    source = HEAD + textwrap.dedent(f"""
        config = LoraConfig(target_modules=["q_proj", "v_proj"])
        a = get_peft_model(AutoModelForCausalLM.from_pretrained("gpt2"), config)
        b = get_peft_model(AutoModelForCausalLM.from_pretrained("{LLAMA}"), config)
    """)
    (violation,) = lint_source(source, select=["LORA001"])
    assert "gpt2" in violation.message and violation.fix is None  # the fix would break the Llama use


def test_a_config_built_by_a_helper_function():
    found = findings(f"""
        def lora_config():
            return LoraConfig(target_modules=["q_proj", "w1"])

        model = AutoModelForCausalLM.from_pretrained("{LLAMA}")
        model = get_peft_model(model, lora_config())
    """)
    assert [(code, line) for code, line, _ in found] == [("LORA002", 3)]


def test_a_model_id_as_a_default_parameter():
    found = findings("""
        def train(model_name="gpt2"):
            model = AutoModelForCausalLM.from_pretrained(model_name)
            config = LoraConfig(target_modules=["q_proj", "v_proj"])
            return get_peft_model(model, config)
    """)
    assert [(code, line) for code, line, _ in found] == [("LORA001", 4)]
    assert "gpt2" in found[0][2]


def test_a_loading_helper_is_followed_with_each_call_s_arguments():
    assert models_by_line(f"""
        def load(name="gpt2"):
            return AutoModelForCausalLM.from_pretrained(name)

        a = get_peft_model(load(), LoraConfig(target_modules=["c_attn"]))
        b = get_peft_model(load("{LLAMA}"), LoraConfig(target_modules=["q_proj"]))
        c = get_peft_model(load(name="{LLAMA}"), LoraConfig(target_modules=["q_proj"]))
    """) == {5: ["gpt2"], 6: [LLAMA], 7: [LLAMA]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose training script imports its config and model id from other modules."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'myproj'\n")
    package = tmp_path / "myproj"
    (package / "train").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "train" / "__init__.py").write_text("")
    (package / "settings.py").write_text(textwrap.dedent(f"""
        from peft import LoraConfig

        MODEL_ID = "{LLAMA}"


        def lora_config(r=8):
            return LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "w1"])
    """))
    (package / "train" / "config.py").write_text(
        "from peft import LoraConfig\n\nLORA = LoraConfig(r=8, lora_alpha=16, target_modules=['c_attn'])\n")
    return tmp_path


SCRIPT = HEAD + """from myproj.settings import MODEL_ID, lora_config
from .config import LORA
from myproj import settings

model = AutoModelForCausalLM.from_pretrained(MODEL_ID)
a = get_peft_model(model, lora_config())
b = get_peft_model(model, LORA)
c = get_peft_model(model, settings.lora_config(16))
"""


def test_configs_and_model_ids_imported_from_the_project(project: Path):
    script = project / "myproj" / "train" / "run.py"
    script.write_text(SCRIPT)
    found = lint_source(SCRIPT, filename=str(script), select=["LORA001", "LORA002"])
    assert [(v.code, v.location.row, v.location.column) for v in found] == [
        ("LORA002", 8, 27), ("LORA001", 9, 27), ("LORA002", 10, 27)]
    assert "settings.py" in found[0].message and LLAMA in found[0].message
    assert "config.py" in found[1].message and found[1].fix is None  # never rewrites another file
    wrapper = cst.MetadataWrapper(cst.parse_module(SCRIPT))
    calls = collect_calls(wrapper, RuleContext(str(script), "", "test", ("0.17.0",)))
    assert sorted(Path(p).name for p in calls.depends_on) == ["config.py", "settings.py"]
    assert all(c.origin is not None for c in calls)
    with consulted.recording() as inputs:  # what the caches key a verdict on
        lint_source(SCRIPT, filename=str(script), select=["LORA001"])
    ours = [(Path(what).relative_to(project).as_posix(), state) for kind, what, state in inputs
            if kind == "path" and Path(what).is_relative_to(project)]  # (resolve_model notes its own)
    read = {what for what, state in ours if state.startswith("file:")}
    assert {"myproj/train/config.py", "myproj/settings.py", "pyproject.toml"} <= read
    tested = {what for what, state in ours if state == "absent"}
    assert "myproj/train/myproj/settings.py" in tested  # created later, it would be the one imported


def test_an_imported_config_reports_only_what_the_model_adds(project: Path):
    """The other module's own findings (here LORA201 on r=8, lora_alpha=4) are its own file's."""
    (project / "myproj" / "train" / "config.py").write_text(
        "from peft import LoraConfig\n\nLORA = LoraConfig(r=8, lora_alpha=4, target_modules=['q_proj'])\n")
    script = project / "myproj" / "train" / "run.py"
    script.write_text(SCRIPT)
    assert lint_source(SCRIPT, filename=str(script), select=["LORA201", "LORA003", "LORA101"]) == []


def test_a_config_module_that_does_not_parse_or_is_missing_is_unknown(project: Path):
    (project / "myproj" / "train" / "config.py").write_text("LORA = LoraConfig(r=8,\n")
    (project / "myproj" / "settings.py").unlink()
    script = project / "myproj" / "train" / "run.py"
    script.write_text(SCRIPT)
    assert lint_source(SCRIPT, filename=str(script), select=["LORA001", "LORA002"]) == []


def test_modules_outside_the_project_are_not_read(tmp_path: Path):
    (tmp_path / "settings.py").write_text(
        "from peft import LoraConfig\nLORA = LoraConfig(target_modules=['c_attn'])\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    script = project / "run.py"
    source = HEAD + f"from settings import LORA\nget_peft_model(AutoModelForCausalLM.from_pretrained('{LLAMA}'), LORA)\n"
    script.write_text(source)
    assert lint_source(source, filename=str(script), select=["LORA001"]) == []
    script_alone = tmp_path / "run.py"  # no project root: the script's own folder is searched
    script_alone.write_text(source)
    assert [v.code for v in lint_source(source, filename=str(script_alone), select=["LORA001"])] == ["LORA001"]


# -- precision: nothing where a path cannot be proven ------------------------------------

@pytest.mark.parametrize("source", [
    # the model and its targets chosen by the same condition
    f"""
    if small:
        name = "gpt2"
    else:
        name = "{LLAMA}"
    model = AutoModelForCausalLM.from_pretrained(name)
    if small:
        model = get_peft_model(model, LoraConfig(target_modules=["c_attn"]))
    else:
        model = get_peft_model(model, LoraConfig(target_modules=["q_proj"]))
    """,
    # both vary
    f"""
    if small:
        name = "gpt2"
        config = LoraConfig(target_modules=["c_attn"])
    else:
        name = "{LLAMA}"
        config = LoraConfig(target_modules=["q_proj"])
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(name), config)
    """,
    # a config defined on some paths only
    f"""
    name = "gpt2" if small else "{LLAMA}"
    if not small:
        config = LoraConfig(target_modules=["q_proj"])
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(name), config)
    """,
    # an early return ties the model to the rest
    f"""
    def main(small):
        if small:
            name = "gpt2"
        else:
            name = "{LLAMA}"
        if small:
            return
        get_peft_model(AutoModelForCausalLM.from_pretrained(name), LoraConfig(target_modules=["q_proj"]))
    """,
    # an arm that always raises never brings its value
    f"""
    def main(small):
        if small:
            name = "gpt2"
            raise NotImplementedError
        else:
            name = "{LLAMA}"
        get_peft_model(AutoModelForCausalLM.from_pretrained(name), LoraConfig(target_modules=["q_proj"]))
    """,
    # loop variables and unknown sources
    """
    for name in ("gpt2", "facebook/opt-350m"):
        get_peft_model(AutoModelForCausalLM.from_pretrained(name), LoraConfig(target_modules=["q_proj"]))
    """,
    """
    name = "gpt2"
    name = args.model
    get_peft_model(AutoModelForCausalLM.from_pretrained(name), LoraConfig(target_modules=["q_proj"]))
    """,
    # a helper whose parameter picks both the model and the targets
    f"""
    def load(small):
        if small:
            return AutoModelForCausalLM.from_pretrained("gpt2")
        return AutoModelForCausalLM.from_pretrained("{LLAMA}")

    def config(small):
        if small:
            return LoraConfig(target_modules=["c_attn"])
        return LoraConfig(target_modules=["q_proj"])

    get_peft_model(load(flag), config(flag))
    """,
    # a helper that only sometimes returns a config
    f"""
    def config():
        if ok:
            return LoraConfig(target_modules=["c_attn"])

    get_peft_model(AutoModelForCausalLM.from_pretrained(name), config())
    """,
    # the model id is a parameter that every caller here passes
    """
    def train(model_name="gpt2"):
        model = AutoModelForCausalLM.from_pretrained(model_name)
        if model_name.startswith("meta-llama"):
            get_peft_model(model, LoraConfig(target_modules=["q_proj"]))
    """,
])
def test_nothing_is_reported_where_no_path_is_proven(source):
    assert findings(source) == []


# -- the reaching-definitions layer ----------------------------------------------------

def _reach(source: str, name: str = "x") -> tuple[list[int], bool, list[bool]]:
    """The lines of the definitions of ``name`` reaching the call ``use()``, whether they
    are complete, and whether each is straight."""
    module = cst.parse_module(textwrap.dedent(source))
    wrapper = cst.MetadataWrapper(module)
    from libcst.metadata import PositionProvider

    positions = wrapper.resolve(PositionProvider)
    index = FileIndex.build(wrapper.module)
    (site,) = [s for s in index.calls if isinstance(s.node.func, cst.Name) and s.node.func.value == "use"]
    reach = reaching(index, name, Point.of(site))
    lines = {}
    for node in _assignments(wrapper.module):
        lines[id(node.value)] = positions[node].start.line
    found = [(lines.get(id(d.binding.value), 0), d.straight) for d in reach.definitions]
    return [line for line, _ in found], reach.complete, [straight for _, straight in found]


def _assignments(module: cst.Module) -> list[cst.Assign]:
    found = []

    class Visitor(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            found.append(node)

    module.visit(Visitor())
    return found


@pytest.mark.parametrize("source, lines, complete, straight", [
    ("x = 1\nx = 2\nuse(x)\n", [2], True, [True]),
    ("x = 1\nif c:\n    x = 2\nuse(x)\n", [1, 3], True, [True, True]),
    ("if c:\n    x = 1\nuse(x)\n", [2], False, [True]),
    ("if c:\n    x = 1\nelif d:\n    x = 2\nelse:\n    x = 3\nuse(x)\n", [2, 4, 6], True, [True] * 3),
    ("try:\n    x = 1\nexcept E:\n    x = 2\nuse(x)\n", [2, 4], True, [True, True]),
    ("x = 1\nif c:\n    use(x)\n", [1], True, [False]),
    ("x = 1\nfor i in y:\n    use(x)\n    x = 2\n", [1, 4], True, [False, False]),
    ("x = 1\nwhile c:\n    x = 2\nuse(x)\n", [1, 3], True, [True, False]),
    ("def f():\n    if c:\n        x = 1\n        return\n    x = 2\n    use(x)\n", [5], True, [True]),
    ("def f():\n    if c:\n        x = 1\n    else:\n        return\n    use(x)\n", [3], True, [True]),
    ("def f():\n    x = 1\n    if c:\n        return\n    use(x)\n", [2], True, [False]),
    ("x = 1\ndef f():\n    use(x)\nx = 2\n", [1, 4], True, [False, False]),
    ("x = 1\ndef f():\n    use(x)\n", [1], True, [True]),
])
def test_reaching_definitions(source, lines, complete, straight):
    assert _reach(source) == (lines, complete, straight)


@pytest.mark.parametrize("source, lines, complete, straight", [
    # as the script runs: the module level up to the call of f(), then f()
    ("x = 1\ndef f():\n    use(x)\nx = 2\nf()\n", [4], True, [True]),
    ("x = 1\ndef f():\n    use(x)\nf()\nx = 2\n", [1], True, [True]),
    ("x = 1\ndef f():\n    use(x)\nif __name__ == '__main__':\n    x = 2\n    f()\n", [5], True, [True]),
    ("x = 1\ndef f():\n    if c:\n        use(x)\nx = 2\nf()\n", [5], True, [False]),
    # f() may run before x is bound, or runs twice with different values
    ("def f():\n    use(x)\nf()\nx = 1\n", [], False, []),
    ("x = 1\ndef f():\n    use(x)\nf()\nx = 2\nf()\n", [1, 5], True, [False, False]),
    # through the function that calls it
    ("x = 1\ndef f():\n    use(x)\ndef main():\n    f()\nx = 2\nmain()\n", [6], True, [True]),
    # `global`: what the function binds itself, before the use
    ("x = 1\ndef f():\n    global x\n    x = g(x)\n    use(x)\nf()\n", [4], True, [True]),
    ("x = 1\ndef f():\n    global x\n    if c:\n        x = 2\n    use(x)\nf()\n", [5, 1], True,
     [True, False]),
    # ... but not when it may have run before: the old reading (every value, none straight)
    ("x = 1\ndef f():\n    global x\n    if c:\n        x = 2\n    use(x)\nfor _ in y:\n    f()\n", [1, 5],
     True, [False, False]),
    # at module level, a function's `global` binding counts only once a call of it may have run
    ("x = 1\nuse(x)\ndef f():\n    global x\n    x = 2\nf()\n", [1], True, [True]),
    ("x = 1\ndef f():\n    global x\n    x = 2\nf()\nuse(x)\n", [1, 4], True, [True, False]),
    # another function rebinds it: at any time
    ("x = 1\ndef g():\n    global x\n    x = 2\ndef f():\n    use(x)\nf()\n", [4, 1], True, [False, True]),
    # not only called here (a callback): the old reading
    ("x = 1\ndef f():\n    use(x)\nx = 2\nrun(f)\n", [1, 4], True, [False, False]),
    ("x = 1\n@app.command()\ndef f():\n    use(x)\nx = 2\nf()\n", [1, 5], True, [False, False]),
])
def test_reaching_a_module_name_from_a_function_the_file_calls(source, lines, complete, straight):
    assert _reach(source) == (lines, complete, straight)


LOOP_REBINDING = '''\
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("gpt2")
for _ in range(3):
    model = prepare_model_for_kbit_training(model)
model = get_peft_model(model, LoraConfig(target_modules=["q_proj"]))
'''


def test_a_model_rebound_in_a_loop_is_traced_back_once(tmp_path):
    """`model = prepare(model)` in a loop reaches itself: tracing it back went round the loop until
    the recursion limit, then again with the large-stack retry (minutes on peft's
    tests/test_gpu_examples.py). Run in a process of its own so that a hang fails the test."""
    import subprocess
    import sys

    (tmp_path / "train.py").write_text(LOOP_REBINDING)
    done = subprocess.run([sys.executable, "-m", "lint_rules", "check", "--no-cache", "--isolated", "train.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "train.py:7:57: LORA001" in done.stdout and "c_attn" in done.stdout


@pytest.mark.parametrize("model", [f'AutoModelForCausalLM.from_pretrained("{LLAMA}")', f'"{LLAMA}"'])
@pytest.mark.parametrize("wrong", [0, 1])
def test_a_trl_trainer_is_linked_to_the_config_bound_when_it_is_called(model, wrong):
    """Issue 9 item 3's snippet with ``SFTTrainer(model=..., peft_config=config)``: the config
    bound twice; each trainer gets the config its name holds there, so the one with ``w1``
    (no Llama module; the first or the second) gets LORA002 and the other nothing."""
    targets = ['["q_proj", "v_proj"]', '["q_proj", "v_proj"]']
    targets[wrong] = '["q_proj", "w1"]'
    found = findings(f"""
        from trl import SFTTrainer

        model = {model}
        config = LoraConfig(target_modules={targets[0]})
        a = SFTTrainer(model=model, peft_config=config, train_dataset=data)
        config = LoraConfig(target_modules={targets[1]})
        b = SFTTrainer(model=model, train_dataset=data, peft_config=config)
    """)
    assert [(code, line) for code, line, _ in found] == [("LORA002", 7 if wrong else 5)]
    assert "['w1']" in found[0][2] and LLAMA in found[0][2]
