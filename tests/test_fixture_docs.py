"""docs/pytest-fixtures.md: each example of "Assertions for what breaks training" runs as written and
fails with the output the page shows."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

pytest.importorskip("torch")
peft = pytest.importorskip("peft")

import pytest_lora  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "pytest-fixtures.md"
SECTION = "## Assertions for what breaks training"


def _examples() -> list[tuple[str, str]]:
    """(python block, text block) pairs of the section, in page order."""
    text = PAGE.read_text("utf-8")
    section = text[text.index(SECTION):]
    section = section[: section.index("\n## ", len(SECTION))]
    return re.findall(r"```python\n(.*?)```\s*```text\n(.*?)```", section, re.S)


def _pattern(shown: str) -> re.Pattern:
    """The shown output as a regex: ``...`` within a line is any text, a line of ``...`` any lines."""
    parts = []
    for line in shown.rstrip("\n").split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n?)*?")
        else:
            parts.append(".*".join(re.escape(piece) for piece in line.split("...")) + r"\n?")
    return re.compile("".join(parts))


def test_the_section_has_an_example_for_every_assertion():
    code = "\n".join(python for python, _ in _examples())
    for name in ("assert_lora_grads_flow", "assert_adapter_roundtrip", "assert_merge_equivalent",
                 "assert_trainable_dtypes", "assert_targets_cover", "assert_head_trainable"):
        assert f"{name}(" in code, name


def _id(index: int, code: str) -> str:
    called = re.findall(r"(assert_\w+)\(", code)[-1]
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
