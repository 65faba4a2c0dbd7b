"""``# noqa`` in config files (issue 12): YAML comments suppress findings like Python's, on the key's
line, a list element's line or alone on the line above; ``--add-noqa`` writes valid YAML comments
(or leaves the file alone with a message); JSON has no comments, so it is never written to."""
from __future__ import annotations

import json

import pytest
import yaml

from cli_run import lint
from lint_rules.add_noqa import add_noqa
from lint_rules.engine import lint_source
from lint_rules.sources import yaml_comments

PEFT = {"target-peft-version": "==0.21.2"}
HEAD = "base_model: microsoft/Phi-3-mini-4k-instruct  # fuses q, k and v into qkv_proj\nadapter: lora\n" \
       "lora_r: 16\nlora_alpha: 32\n"
BLOCK = HEAD + "lora_target_modules:\n  - q_proj\n  - v_proj\n"  # LORA001 at the list's first element


def found(text: str, **settings) -> list[tuple[str, int, int]]:
    return [(v.code, v.location.row, v.location.column)
            for v in lint_source(text, filename="train.yaml", settings={**PEFT, **settings})]


def test_the_unsuppressed_finding():
    assert found(BLOCK) == [("LORA001", 6, 3)]


@pytest.mark.parametrize("text", [
    BLOCK.replace("lora_target_modules:\n", "lora_target_modules:  # noqa: LORA001\n"),  # on the key
    BLOCK.replace("  - q_proj\n", "  - q_proj  # noqa: LORA001\n"),  # on the element
    BLOCK.replace("  - q_proj\n", "  - q_proj  # noqa: target-modules-not-found\n"),  # by name
    BLOCK.replace("  - q_proj\n", "  - q_proj # see the model card  # noqa\n"),  # bare, after another comment
    BLOCK.replace("lora_target_modules:\n", "# noqa: LORA001\nlora_target_modules:\n"),  # alone, just above
    HEAD + "lora_target_modules: [q_proj, v_proj]  # noqa: LORA002, LORA001\n",
    "# lora-lint: noqa: LORA001\n" + BLOCK,  # the whole file
    "# lora-lint: noqa\n" + BLOCK,
])
def test_noqa_comments_suppress_the_finding(text):
    assert found(text) == []


@pytest.mark.parametrize("text", [
    BLOCK.replace("  - q_proj\n", "  - q_proj  # noqa: LORA002\n"),  # another rule
    HEAD + "lora_target_modules: [q_proj, v_proj]\nlora_dropout: 0.05  # noqa: LORA001\n",  # the next line
    BLOCK.replace("lora_r: 16\n", "lora_r: 16  # noqa: LORA001\n"),  # another key's line
    # no comment: inside a quoted string, inside a block scalar, without a space before '#'
    HEAD + "lora_target_modules: ['q_proj # noqa', v_proj]\n",
    HEAD + "note: |\n  # noqa: LORA001\nlora_target_modules: [q_proj, v_proj]\n",
    HEAD + "lora_target_modules: [q_proj, v_proj]#noqa\n",
    HEAD + "note: '\n  # lora-lint: noqa\n  '\nlora_target_modules: [q_proj, v_proj]\n",
])
def test_what_is_no_noqa_comment_for_that_finding(text):
    assert [code for code, _, _ in found(text)] == ["LORA001"]


def test_yaml_comments_are_found_outside_scalars_only():
    text = "a: 'x # y'  # one\nb: |\n  # two\n  z\nc: [q, # three\n  v]\nd: x#y\n# four\n"
    assert yaml_comments.comments(text) == [(1, "# one", False), (5, "# three", False), (8, "# four", True)]
    # rows that can take a comment: not the block scalar's, nor a row a scalar runs on past
    assert yaml_comments.noqa_rows(text) == {1: 12, 5: 7, 6: None, 7: None, 8: 0, 9: None}
    assert yaml_comments.noqa_rows("e: 'multi\n  line'\nf: plain\n  more\n") == {2: None, 4: None, 5: None}
    assert yaml_comments.comments("a: 'unclosed\n# x\n") == []  # not YAML: no comments


# -- --add-noqa --------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.lora-lint]\ntarget-peft-version = "==0.21.2"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_add_noqa_writes_yaml_comments_that_suppress_and_keep_the_data(project, capsys):
    text = BLOCK.replace("  - q_proj\n", "  - q_proj  # attention\n") + "lora_dropout: 0.05\n"
    path = project / "train.yaml"
    path.write_text(text)
    code, _, err = lint(capsys, "--add-noqa", "train.yaml")
    assert code == 0 and "Added 1 noqa directive." in err
    new = path.read_text()
    assert new == text.replace("  - q_proj  # attention\n", "  - q_proj  # attention  # noqa: LORA001\n")
    assert yaml.safe_load(new) == yaml.safe_load(text)
    assert lint(capsys, "train.yaml")[:2] == (0, "")


def test_add_noqa_leaves_a_yaml_row_inside_a_scalar_alone():
    from lint_rules.violation import Location, Violation

    text = "a: 1\nnote: |\n  one\n  two\nb: 'x\n  y'\n"
    inside = [Violation("LORA001", "target-modules-not-found", "error", "m", "t.yaml", Location(row, 3),
                        Location(row, 4)) for row in (3, 4)]
    assert add_noqa(text, inside, yaml_comments.noqa_rows) == (text, 0)  # a block scalar's rows
    quoted = Violation("LORA001", "target-modules-not-found", "error", "m", "t.yaml", Location(5, 4), Location(6, 5))
    new, added = add_noqa(text, [quoted], yaml_comments.noqa_rows)  # the row the string ends on
    assert added == 1 and new == text.replace("  y'\n", "  y'  # noqa: LORA001\n")
    assert yaml.safe_load(new) == yaml.safe_load(text)


def test_add_noqa_never_writes_into_json(project, capsys):
    text = json.dumps({"base_model_name_or_path": "gpt2", "lora_alpha": 16, "peft_type": "LORA", "r": 8,
                       "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}, indent=2) + "\n"
    path = project / "adapter_config.json"
    path.write_text(text)
    code, _, err = lint(capsys, "--add-noqa", "adapter_config.json")
    assert code == 0 and path.read_text() == text
    assert "adapter_config.json: JSON has no comments, so no # noqa; use per-file-ignores" in err
    assert "Added 0 noqa directives. 1 finding left" in err


def test_add_noqa_refuses_a_result_that_no_longer_parses(project, capsys, monkeypatch):
    path = project / "train.yaml"
    path.write_text(BLOCK)
    # a source whose rows were wrong would break the file: the check after writing catches it
    monkeypatch.setattr("lint_rules.add_noqa.add_noqa",
                        lambda source, violations, rows: (source.replace("  - q_proj\n", "  - q_proj: [\n"), 1))
    code, _, err = lint(capsys, "--add-noqa", "train.yaml")
    assert "could not add every noqa comment; file left unchanged" in err and path.read_text() == BLOCK


def test_add_noqa_merges_into_an_existing_yaml_noqa():
    from lint_rules.violation import Location, Violation

    text = "a: 1  # noqa: LORA002\nb: 2\n"
    violation = Violation("LORA001", "target-modules-not-found", "error", "m", "t.yaml", Location(1, 1),
                          Location(1, 2))
    assert add_noqa(text, [violation], yaml_comments.noqa_rows) == ("a: 1  # noqa: LORA002, LORA001\nb: 2\n", 1)


def test_rows_are_counted_as_locations_count_them():
    # CRLF and lone CR line breaks: the comment rows are the rows findings are reported on
    assert yaml_comments.comments("a: 1  # x\r\nb: 2\r# y\rc: 3 # z") == [(1, "# x", False), (3, "# y", True),
                                                                         (4, "# z", False)]
    assert yaml_comments.noqa_rows("a: 1  # x\r\nb: 2\r\n") == {1: 6, 2: None, 3: None}
    assert yaml_comments.noqa_rows("a: 1\rb: 2\r") == {}  # add_noqa counts rows at \n only: none offered


def test_a_suppressed_finding_is_not_fixed():
    from lint_rules.engine import fix_source

    text = BLOCK.replace("lora_target_modules:\n", "lora_target_modules:  # noqa: LORA001\n")
    fixed, left = fix_source(text, filename="train.yaml", settings=PEFT, select=["LORA001"], unsafe=True)
    assert fixed == text and left == []
    fixed, _ = fix_source(BLOCK, filename="train.yaml", settings=PEFT, select=["LORA001"], unsafe=True)
    assert fixed != BLOCK  # without the comment it is (to qkv_proj)
