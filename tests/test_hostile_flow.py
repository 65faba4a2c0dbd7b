"""Following values through hostile code and trees: a project module that cannot be read, and
shapes that recurse without end (issue 8; the flow analysis of issue 9).

An imported module that cannot be read (no permission, a FIFO, a folder named ``x.py``, gone
between being found and being read, too deeply nested to parse) tells nothing, and the run goes
on. Tracing a value gives ``UNKNOWN`` past its depth bound instead of a ``RecursionError``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import lint
from denied import deny
from lint_rules.analysis import modules

HEAD = "from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
LLAMA = "meta-llama/Llama-2-7b-hf"
CONFIG = "from peft import LoraConfig\nLORA = LoraConfig(r=8, lora_alpha=16, target_modules=['c_attn'])\n"
SCRIPT = HEAD + f"from {{module}} import LORA\nget_peft_model(AutoModelForCausalLM.from_pretrained('{LLAMA}'), LORA)\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project (``setup.py``) as the working folder, with a config module in ``conf/``."""
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "__init__.py").write_text("")
    (tmp_path / "conf" / "lora.py").write_text(CONFIG)
    (tmp_path / "run.py").write_text(SCRIPT.format(module="conf.lora"))
    monkeypatch.chdir(tmp_path)
    modules._index.cache_clear()
    return tmp_path


def test_the_readable_module_is_followed(project, capsys):
    code, out, err = lint(capsys, "run.py")
    assert code == 1 and out.startswith("run.py:4:") and "LORA001" in out and "conf/lora.py" in out


def test_a_module_in_a_folder_that_cannot_be_searched(project, capsys, monkeypatch):
    deny(monkeypatch, project / "conf")
    assert lint(capsys, "run.py") == (0, "", "All checks passed!\n")


def test_a_module_that_cannot_be_opened(project, capsys, monkeypatch):
    deny(monkeypatch, project / "conf" / "lora.py")
    assert lint(capsys, "run.py") == (0, "", "All checks passed!\n")


def test_a_module_gone_between_being_found_and_being_read(project, capsys, monkeypatch):
    found = modules.ModuleReader._find

    def find_then_remove(self, base, module):
        path = found(self, base, module)
        if path is not None and path.name == "lora.py":
            path.unlink()
        return path

    monkeypatch.setattr(modules.ModuleReader, "_find", find_then_remove)
    assert lint(capsys, "run.py") == (0, "", "All checks passed!\n")


@pytest.mark.parametrize("kind", ["fifo", "folder", "dangling link", "link to /dev/zero", "undecodable", "too large"])
def test_a_module_that_is_no_readable_source(project, capsys, monkeypatch, kind):
    path = project / "conf" / "lora.py"
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling link":
        path.symlink_to(project / "missing.py")
    elif kind == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "undecodable":
        path.write_bytes(CONFIG.encode() + b"x = '\xff'\n")
    else:
        monkeypatch.setattr(modules, "MAX_BYTES", len(CONFIG) - 1)
        path.write_text(CONFIG)
    assert lint(capsys, "run.py") == (0, "", "All checks passed!\n")


def test_a_module_too_deeply_nested_to_parse_is_not_parsed(project):
    """libcst's native parser overflowed the stack on it: the whole run died (SIGSEGV)."""
    (project / "conf" / "lora.py").write_text(CONFIG + "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n")
    script = project.parent / "lora-lint-script"
    script.write_text("import sys\nfrom lint_rules.cli import main\nsys.exit(main())\n")
    done = subprocess.run([sys.executable, str(script), "--no-cache", "run.py"], cwd=project, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "All checks passed!\n")


def test_a_cookie_in_a_module_is_honoured(project, capsys):
    (project / "conf" / "lora.py").write_bytes(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + CONFIG.encode())
    code, out, _ = lint(capsys, "run.py")
    assert code == 1 and "LORA001" in out and "conf/lora.py" in out


# --- tracing values: bounded nesting ------------------------------------------------------------

MODEL = HEAD + "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
TARGETS = "LoraConfig(target_modules=['q_proj'])"  # no module of gpt2: LORA001 once the two meet


def chain(n: int) -> str:
    return f"a0 = {TARGETS}\n" + "".join(f"a{i + 1} = a{i}\n" for i in range(n)) + f"get_peft_model(model, a{n})\n"


def rebound(n: int) -> str:
    return "def prepare(m):\n    return m\n\n" + "model = prepare(model)\n" * n + f"get_peft_model(model, {TARGETS})\n"


SHAPES = {
    "a chain of names": chain,
    "a model rebound through a helper": rebound,
    "mutually recursive helpers": lambda n: (f"def f(x):\n    return g(x)\n\ndef g(x):\n    return f(x)\n\n"
                                             f"get_peft_model(model, f({TARGETS}))\n"),
    "a function returning its own call": lambda n: ("def f():\n    return f()\n\nget_peft_model(model, f())\n"
                                                    f"get_peft_model(f(), {TARGETS})\n"),
}
FRAMES = 300  # the stack a trace may use above its caller's


def linked_models(source: str) -> list[list[str]]:
    """The models each LoraConfig call is applied to, found with at most ``FRAMES`` more frames
    of stack than the caller's (a ``RecursionError`` beyond)."""
    import libcst as cst

    from lint_rules.analysis import collect_calls
    from lint_rules.rule import RuleContext

    wrapper = cst.MetadataWrapper(cst.parse_module(source))
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + FRAMES)
    try:
        calls = collect_calls(wrapper, RuleContext("t.py", "", "test", ("0.17.0",)))
    finally:
        sys.setrecursionlimit(limit)
    return [sorted(m.name for m in call.models) for call in calls]


@pytest.mark.parametrize("shape", ["a chain of names", "a model rebound through a helper"])
def test_a_short_chain_is_followed(shape):
    assert linked_models(MODEL + SHAPES[shape](10)) == [["gpt2"]]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_trace_past_its_nesting_bound_is_unknown_not_a_recursion_error(shape):
    """3,000 names long, or without end: the config's model stays unknown (no finding)."""
    assert linked_models(MODEL + SHAPES[shape](3000)) == [[]]
