"""The engine on its own: selection, suppression, fixes, syntax errors (with small test rules)."""
from __future__ import annotations

import pytest

from engine_fakes import fake_rules  # noqa: F401  (fixture)
from lint_rules.engine import fix_source, lint_source
from lint_rules.errors import ConfigError, FixError

pytestmark = pytest.mark.usefixtures("fake_rules")

SRC = """from peft import LoraConfig

config = LoraConfig(
    r=0,
    bias="all",
)
"""


def codes(violations):
    return [v.code for v in violations]


def test_default_rules_and_positions():
    found = lint_source(SRC, filename="a.py")
    assert codes(found) == ["LORA990", "LORA991"]
    rank = found[0]
    assert (rank.location.row, rank.location.column) == (4, 7)
    assert (rank.end_location.row, rank.end_location.column) == (4, 8)
    assert rank.severity == "error" and rank.name == "test-rank-zero" and rank.filename == "a.py"
    assert rank.fix.applicability == "safe"
    [edit] = rank.fix.edits
    assert (edit.content, edit.location.row, edit.location.column, edit.end_location.column) == ("8", 4, 7, 8)


def test_prefilter_skips_files_without_peft():
    assert lint_source("LoraConfigX = 1\nx = (\n".replace("LoraConfig", "Other")) == []


@pytest.mark.parametrize("select, expected", [
    (["LORA990"], ["LORA990"]),
    (["test-bias-all"], ["LORA991"]),
    (["LORA99"], ["LORA990", "LORA991", "LORA992", "LORA993"]),
    (["ALL"], ["LORA990", "LORA991", "LORA992", "LORA993"]),
])
def test_select(select, expected):
    assert sorted(codes(lint_source(SRC, select=select))) == expected


def test_ignore_extend_select_and_severity_override():
    settings = {"ignore": ["LORA990"], "extend-select": ["LORA992"], "severity": {"test-bias-all": "error"}}
    found = lint_source(SRC, settings=settings)
    assert codes(found) == ["LORA992", "LORA991"]
    assert found[1].severity == "error"


def test_rule_option_from_top_level_key_and_rules_table():
    assert lint_source(SRC, settings={"select": ["LORA992"], "label": "thing"})[0].message == "thing found"
    settings = {"select": ["LORA992"], "rules": {"LORA992": {"label": "table"}}}
    assert lint_source(SRC, settings=settings)[0].message == "table found"


@pytest.mark.parametrize("settings, words", [
    ({"selct": ["LORA990"]}, ["'selct'", "'select'"]),
    ({"select": ["LORA99O"]}, ["'LORA99O'"]),
    ({"rules": {"LORA992": {"lable": 1}}}, ["'lable'", "'label'"]),
    ({"fail-on": "fatal"}, ["fail-on"]),
    ({"target-peft-version": ">=99"}, [">=99"]),
])
def test_bad_settings_are_config_errors(settings, words):
    with pytest.raises(ConfigError) as info:
        lint_source(SRC, settings=settings)
    for word in words:
        assert word in str(info.value)


MULTI = """from peft import LoraConfig

config = LoraConfig(  {a}
    r=0,  {b}
    lora_alpha=16,
){c}
"""


@pytest.mark.parametrize("where", ["a", "b", "c"])
@pytest.mark.parametrize("comment, suppressed", [
    ("# noqa: LORA990", True),
    ("# noqa: test-rank-zero", True),
    ("# noqa", True),
    ("# noqa: E501, LORA990", True),
    ("# noqa: LORA991", False),
    ("# noqa: E501", False),
])
def test_noqa_on_any_line_of_a_multiline_call(where, comment, suppressed):
    slots = {"a": "", "b": "", "c": ""}
    slots[where] = ("  " if where == "c" else "") + comment
    assert codes(lint_source(MULTI.format(**slots))) == ([] if suppressed else ["LORA990"])


def test_noqa_alone_on_the_line_above_the_call():
    source = SRC.replace("config = ", "# noqa: LORA990\nconfig = ")
    assert codes(lint_source(source)) == ["LORA991"]


def test_noqa_inside_a_string_is_not_a_comment():
    source = SRC.replace('bias="all"', 'bias="all", name="# noqa"')
    assert codes(lint_source(source)) == ["LORA990", "LORA991"]


@pytest.mark.parametrize("header, expected", [
    ("# lora-lint: noqa\n", []),
    ("# lora-lint: noqa: LORA991\n", ["LORA990"]),
    ("# lora-lint: noqa: test-rank-zero, LORA991\n", []),
    ("# Lora-Lint: NOQA: lora991\n", ["LORA990"]),  # case-insensitive, like # noqa
    ("x = 1  # lora-lint: noqa\n", ["LORA990", "LORA991"]),  # only on a line of its own
])
def test_file_level_noqa(header, expected):
    assert codes(lint_source(header + SRC)) == expected


def test_per_file_ignores():
    settings = {"per-file-ignores": {"tests/*.py": ["LORA990"], "conf_*.py": ["LORA991"]}}
    assert codes(lint_source(SRC, filename="tests/a.py", settings=settings)) == ["LORA991"]
    assert codes(lint_source(SRC, filename="pkg/conf_x.py", settings=settings)) == ["LORA990"]


def test_syntax_error_is_lora000():
    [violation] = lint_source("from peft import LoraConfig\nconfig = LoraConfig(r=0\n", filename="bad.py")
    assert violation.code == "LORA000" and violation.severity == "error"
    assert "never closed" in violation.message
    assert (violation.location.row, violation.location.column) == (2, 20)


def test_syntax_error_survives_select_unless_ignored_by_name():
    broken = "from peft import LoraConfig\ndef f(:\n"
    assert codes(lint_source(broken, select=["LORA991"])) == ["LORA000"]
    assert lint_source(broken, settings={"ignore": ["syntax-error"]}) == []


def test_safe_fix_keeps_comments_and_is_idempotent():
    source = SRC.replace("r=0,", "r=0,  # rank")
    fixed, remaining = fix_source(source)
    assert "r=8,  # rank" in fixed and 'bias="all"' in fixed
    assert codes(remaining) == ["LORA991"]
    assert fix_source(fixed) == (fixed, remaining)


def test_unsafe_fix_only_when_asked():
    fixed, remaining = fix_source(SRC, unsafe=True)
    assert "bias" not in fixed and "r=8" in fixed
    assert remaining == []


def test_unsafe_fix_edit_covers_the_removed_argument():
    bias = lint_source(SRC)[1]
    [edit] = bias.fix.edits
    lines = SRC.splitlines(keepends=True)
    offset = lambda loc: sum(len(x) for x in lines[: loc.row - 1]) + loc.column - 1  # noqa: E731
    patched = SRC[: offset(edit.location)] + edit.content + SRC[offset(edit.end_location):]
    assert patched == fix_source(SRC, select=["LORA991"], unsafe=True)[0]


def test_a_fix_that_would_not_parse_is_refused():
    with pytest.raises(FixError, match="LORA993"):
        fix_source(SRC, select=["LORA993"])


def test_a_file_whose_fix_fails_keeps_its_findings(tmp_path):
    """The refused fix is reported and the file's findings are still listed (they used to vanish)."""
    from lint_rules.engine import linter_for
    from lint_rules.runner import Task, run

    path = tmp_path / "a.py"
    path.write_text(SRC)
    task = Task(str(path), "a.py", "a.py", SRC, "digest", given=str(path))
    [result] = run([task], linter_for(select=["LORA993"]).settings, fix=True, write=False, jobs=1).files
    assert "LORA993" in result.error and "would not parse" in result.error
    assert [v.code for v in result.violations] == ["LORA993"]
    assert path.read_text() == SRC


NESTED = '''"""Doc."""
import peft

# a comment before the function


@decorator(
    1,
)
@other
def build():
    # inside
    if True:
        return peft.LoraConfig(r=0, bias="all")  # trailing


class Holder:
    config = peft.LoraConfig(  # open
        r=0,
    )
'''


def _apply_edits(source, edits):
    lines = source.splitlines(keepends=True)
    offset = lambda loc: sum(len(x) for x in lines[: loc.row - 1]) + loc.column - 1  # noqa: E731
    for edit in sorted(edits, key=lambda e: (e.location.row, e.location.column), reverse=True):
        source = source[: offset(edit.location)] + edit.content + source[offset(edit.end_location):]
    return source


@pytest.mark.parametrize("code", ["LORA990", "LORA991"])
def test_edits_match_the_applied_fix_in_nested_and_decorated_code(code):
    found = lint_source(NESTED, select=[code])
    assert found and all(v.fix and v.fix.edits for v in found)
    expected = fix_source(NESTED, select=[code], unsafe=True)[0]
    assert expected != NESTED
    assert _apply_edits(NESTED, [e for v in found for e in v.fix.edits]) == expected


def test_severity_tables_merge_across_layers():
    from lint_rules import config

    layers = [("file", config.check_settings({"severity": {"LORA990": "warning"}})),
              ("cli", config.check_settings({"severity": {"LORA991": "error"}}))]
    settings = config.resolve(layers)
    assert (settings.severity("LORA990"), settings.severity("LORA991")) == ("warning", "error")


@pytest.mark.parametrize("deep", [" + ".join(["1"] * 600), " ".join(["'q'"] * 2000)])
def test_deeply_nested_valid_code_is_linted_and_fixed(deep):
    source = f"X = {deep}\n" + SRC
    compile(source, "<test>", "exec")  # valid Python, deeper than libcst's recursive visit allows by default
    assert codes(lint_source(source)) == ["LORA990", "LORA991"]
    fixed, remaining = fix_source(source)
    assert fixed == source.replace("r=0,", "r=8,") and codes(remaining) == ["LORA991"]
