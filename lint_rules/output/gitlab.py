"""GitLab Code Quality: a JSON array of issues (``description``, ``check_name``, ``fingerprint``,
``severity``, ``location.path``, ``location.lines.begin``), as GitLab's merge request widget reads
an ``artifacts:reports:codequality`` file.

A fingerprint is stable while a finding only moves (path, code, message and its rank among equal
findings, not its line), and unique within the report: GitLab shows one issue per fingerprint.
A notebook finding points at the line of the ``.ipynb`` text that holds its cell's row.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, Mapping, Sequence

from ..notebook_lines import json_line
from ..violation import Violation

_SEVERITY = {"error": "major", "warning": "minor", "info": "info"}


def _path(filename: str) -> str:
    """Relative and with forward slashes, never ``./``-prefixed (GitLab's documented form)."""
    path = filename.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _issue(v: Violation, rank: int, sources: Mapping[str, str]) -> dict[str, Any]:
    path = _path(v.filename)
    cell = v.extra.get("cell")
    begin, end = v.location.row, v.end_location.row
    description = f"{v.code} {v.message}"
    if cell is not None:
        begin = end = json_line(sources.get(v.filename), cell, v.location.row)
        description = f"cell {cell}: {description}"
    key = json.dumps([path, v.code, v.message, cell, rank])
    return {
        "description": description,
        "check_name": v.code,
        "fingerprint": hashlib.sha256(key.encode()).hexdigest()[:32],
        "severity": _SEVERITY[v.severity],
        "location": {"path": path, "lines": {"begin": begin, "end": max(end, begin)}},
    }


def render(violations: Sequence[Violation], sources: Mapping[str, str] | None = None) -> str:
    seen: Counter[tuple[str, str, str, Any]] = Counter()
    issues = []
    for v in violations:
        key = (v.filename, v.code, v.message, v.extra.get("cell"))
        issues.append(_issue(v, seen[key], sources or {}))
        seen[key] += 1
    return json.dumps(issues, indent=2) + "\n"
