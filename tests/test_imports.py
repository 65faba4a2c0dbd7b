"""The linter and the plugin must stay free of heavy imports."""
import subprocess
import sys

HEAVY = ("torch", "transformers", "peft")


def _loaded_after(statement: str, names) -> list[str]:
    code = (
        f"import sys; {statement}; "
        f"print(','.join(m for m in {tuple(names)!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_lint_rules_imports_no_torch_transformers_or_peft():
    assert _loaded_after("import lint_rules", HEAVY) == []


def test_plugin_imports_nothing_heavy():
    assert _loaded_after("import pytest_lora.plugin", HEAVY + ("libcst",)) == []


def test_a_whole_lint_run_imports_no_torch_transformers_or_peft():
    """Linting the examples (model resolution, architecture matching, every rule) stays torch-free."""
    examples = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples")
    statement = ("import contextlib, io; from lint_rules.cli import main; "
                 f"out = io.StringIO(); ctx = contextlib.redirect_stdout(out); ctx.__enter__(); "
                 f"main(['--no-cache', '--jobs', '1', {examples!r}]); ctx.__exit__(None, None, None); "
                 "assert 'LORA001' in out.getvalue()")
    assert _loaded_after(statement, HEAVY) == []
