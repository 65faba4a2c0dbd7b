"""``--output-format gitlab``: GitLab Code Quality JSON, checked against its documented shape."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import lint
from engine_fakes import fake_rules  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("fake_rules")

# GitLab's documented report (docs.gitlab.com/ci/testing/code_quality, "Code Quality report
# format"): a JSON array of objects with description, check_name, fingerprint (unique per
# violation), severity (one of five words), location.path (relative, no "./" prefix) and
# location.lines.begin (or location.positions.begin.line), an integer.
CODE_QUALITY_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1, "not": {"pattern": r"^(\./|/)"}},
                    "lines": {"type": "object", "required": ["begin"],
                              "properties": {"begin": {"type": "integer", "minimum": 1},
                                             "end": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    },
}

BAD = """from peft import LoraConfig

config = LoraConfig(
    r=0,
    bias="all",
)
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def report(capsys, *paths: str) -> list[dict]:
    code, out, _ = lint(capsys, "--output-format", "gitlab", *paths)
    assert code in (0, 1)
    data = json.loads(out)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator(CODE_QUALITY_SCHEMA).validate(data)
    return data


def test_each_finding_is_one_documented_issue(project, capsys):
    write(project / "src/bad.py", BAD)
    issues = report(capsys, "./src")
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("LORA990", "major", {"path": "src/bad.py", "lines": {"begin": 4, "end": 4}}),
        ("LORA991", "minor", {"path": "src/bad.py", "lines": {"begin": 5, "end": 5}}),
    ]
    assert issues[0]["description"] == "LORA990 r must be positive"


def test_fingerprints_are_unique_and_survive_a_moved_line(project, capsys):
    twice = BAD + "\nother = LoraConfig(\n    r=0,\n)\n"
    write(project / "a.py", twice)
    write(project / "b.py", twice)
    first = report(capsys, ".")
    prints = [i["fingerprint"] for i in first]
    assert len(first) == 6 and len(set(prints)) == 6
    write(project / "a.py", "\n\n" + twice)  # every finding two lines lower
    moved = report(capsys, ".")
    assert [i["fingerprint"] for i in moved] == prints
    assert moved[0]["location"]["lines"]["begin"] == first[0]["location"]["lines"]["begin"] + 2


def test_no_findings_is_an_empty_array(project, capsys):
    write(project / "ok.py", "from peft import LoraConfig\n\nconfig = LoraConfig(r=8)\n")
    assert report(capsys, ".") == []


def test_a_notebook_finding_points_at_its_line_in_the_ipynb_text(project, capsys):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tune\n"]},
            {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
             "source": ["from peft import LoraConfig\n", "config = LoraConfig(\n", "    r=0,\n", ")\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    text = json.dumps(notebook, indent=1)
    write(project / "train.ipynb", text)
    [issue] = report(capsys, "train.ipynb")
    line = issue["location"]["lines"]["begin"]
    assert text.splitlines()[line - 1].strip() == '"    r=0,\\n",'
    assert issue["description"] == "cell 2: LORA990 r must be positive"
