"""SARIF 2.1.0 as GitHub code scanning reads it: every rule with its help, 1-based regions,
relative artifact URIs, fixes as replacements."""
from __future__ import annotations

import inspect
import json
from pathlib import PurePath
from typing import Any, Sequence
from urllib.parse import quote

from .. import __version__
from ..catalog import all_rules
from ..ruledoc import explain
from ..violation import Location, Violation

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(filename: str) -> str:
    path = PurePath(filename)
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def _region(start: Location, end: Location) -> dict[str, int]:
    return {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}


def _rule(rule: Any) -> dict[str, Any]:
    doc = inspect.getdoc(rule) or rule.SUMMARY
    help_text = explain(rule)
    return {
        "id": rule.CODE,
        "name": rule.NAME,
        "shortDescription": {"text": rule.SUMMARY},
        "fullDescription": {"text": doc.split("\n\n")[0]},
        "help": {"text": help_text, "markdown": help_text},
        "helpUri": rule.url(),
        "defaultConfiguration": {"level": _LEVEL[rule.SEVERITY], "enabled": rule.DEFAULT_ENABLED},
        "properties": {"tags": ["peft", "lora"], "fix": rule.FIX or "none"},
    }


def _result(v: Violation, index: dict[str, int]) -> dict[str, Any]:
    artifact = {"uri": _uri(v.filename)}
    result: dict[str, Any] = {
        "ruleId": v.code,
        "ruleIndex": index[v.code],
        "level": _LEVEL[v.severity],
        "message": {"text": v.message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact,
                                            "region": _region(v.location, v.end_location)}}],
    }
    if "cell" in v.extra:
        result["properties"] = {"cell": v.extra["cell"]}
    if v.fix is not None and v.fix.edits and "cell" not in v.extra:
        result["fixes"] = [{
            "description": {"text": f"{v.fix.message} ({v.fix.applicability})"},
            "artifactChanges": [{"artifactLocation": artifact, "replacements": [
                {"deletedRegion": _region(e.location, e.end_location), "insertedContent": {"text": e.content}}
                for e in v.fix.edits]}],
        }]
    return result


def render(violations: Sequence[Violation]) -> str:
    rules = list(all_rules().values())
    index = {rule.CODE: i for i, rule in enumerate(rules)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lora-lint",
                "version": __version__,
                "informationUri": "https://github.com/pytest-lora/pytest-lora",
                "rules": [_rule(rule) for rule in rules],
            }},
            "columnKind": "unicodeCodePoints",
            "results": [_result(v, index) for v in violations],
        }],
    }
    return json.dumps(log, indent=2) + "\n"
