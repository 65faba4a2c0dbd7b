"""docs/pytest-fixtures.md: every example runs as written. The test module the page shows passes
under pytest; each other example fails with the output the page shows after it."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

pytest.importorskip("torch")
peft = pytest.importorskip("peft")

import pytest_lora  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "pytest-fixtures.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)


def _blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in page order."""
    return FENCE.findall(PAGE.read_text("utf-8"))


def _examples() -> list[tuple[str, str]]:
    """(python block, text block) pairs: the code and what it raises."""
    blocks = _blocks()
    return [(body, blocks[i + 1][1]) for i, (lang, body) in enumerate(blocks[:-1])
            if lang == "python" and blocks[i + 1][0] == "text"]


def _test_modules() -> list[str]:
    """Python blocks with no output after them: test modules, run with pytest."""
    blocks = _blocks()
    return [body for i, (lang, body) in enumerate(blocks)
            if lang == "python" and (i + 1 == len(blocks) or blocks[i + 1][0] != "text")]


def test_every_block_on_the_page_is_run():
    blocks = _blocks()
    assert len(blocks) >= 10
    for i, (lang, body) in enumerate(blocks):
        assert lang in {"python", "text"}, f"block {i} ({lang or 'no language'}) is run by no test:\n{body}"
        if lang == "text":  # an output: the example before it produces it
            assert i > 0 and blocks[i - 1][0] == "python", f"block {i} shows output of no example:\n{body}"
    modules = _test_modules()
    assert modules and all(re.search(r"^def test_", code, re.M) for code in modules)
    assert len(_examples()) + len(modules) == sum(lang == "python" for lang, _ in blocks)


def test_the_page_has_an_example_for_every_assertion():
    code = "\n".join(python for python, _ in _examples())
    for name in ("assert_lora_grads_flow", "assert_adapter_roundtrip", "assert_merge_equivalent",
                 "assert_trainable_dtypes", "assert_targets_cover", "assert_head_trainable",
                 "assert_trainable_params", "assert_device_placement", "estimate_lora_memory", "apply_lora"):
        assert f"{name}(" in code, name


def _pattern(shown: str) -> re.Pattern:
    """The shown output as a regex: ``...`` within a line is any text, a line of ``...`` any lines."""
    parts = []
    for line in shown.rstrip("\n").split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n?)*?")
        else:
            parts.append(".*".join(re.escape(piece) for piece in line.split("...")) + r"\n?")
    return re.compile("".join(parts))


def _id(index: int, code: str) -> str:
    called = re.findall(r"(\w+)\(", code)[-1]
    return f"{index}-{called}"


@pytest.mark.parametrize(("code", "shown"), [pytest.param(code, shown, id=_id(index, code))
                                             for index, (code, shown) in enumerate(_examples())])
def test_example_fails_as_the_page_shows(code, shown, tmp_path):
    namespace = {name: getattr(pytest_lora, name) for name in pytest_lora.__all__}
    namespace.update(PeftModel=peft.PeftModel, tmp_path=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the page names the type
            exec(compile(code, str(PAGE), "exec"), namespace)  # noqa: S102 - the page's own example
    actual = f"{raised.type.__name__}: {raised.value}"
    assert _pattern(shown).fullmatch(actual), f"the page shows:\n{shown}\nthe example gives:\n{actual}"


@pytest.mark.parametrize("code", _test_modules())
def test_the_test_module_passes(code, pytester):
    pytester.makepyfile(test_page=code)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes.get("passed", 0) >= 1, result.stdout.str()
    assert not outcomes.get("failed") and not outcomes.get("errors")
