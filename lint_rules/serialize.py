"""Violations as plain JSON data (the ``json`` output format and the cache share it)."""
from __future__ import annotations

from typing import Any

from .violation import FixInfo, Location, TextEdit, Violation


def _loc(location: Location) -> dict[str, int]:
    return {"row": location.row, "column": location.column}


def to_dict(violation: Violation) -> dict[str, Any]:
    fix = violation.fix
    data: dict[str, Any] = {
        "code": violation.code,
        "name": violation.name,
        "severity": violation.severity,
        "message": violation.message,
        "filename": violation.filename,
        "location": _loc(violation.location),
        "end_location": _loc(violation.end_location),
        "fix": None if fix is None else {
            "applicability": fix.applicability,
            "message": fix.message,
            "edits": [{"content": e.content, "location": _loc(e.location), "end_location": _loc(e.end_location)}
                      for e in fix.edits],
        },
        "url": violation.url,
    }
    if "cell" in violation.extra:
        data["cell"] = violation.extra["cell"]
    return data


def from_dict(data: dict[str, Any], filename: str | None = None) -> Violation:
    fix = data["fix"]
    return Violation(
        code=data["code"], name=data["name"], severity=data["severity"], message=data["message"],
        filename=filename if filename is not None else data["filename"],
        location=Location(**data["location"]), end_location=Location(**data["end_location"]),
        fix=None if fix is None else FixInfo(
            fix["applicability"], fix["message"],
            tuple(TextEdit(e["content"], Location(**e["location"]), Location(**e["end_location"]))
                  for e in fix["edits"])),
        url=data["url"],
        extra={"cell": data["cell"]} if "cell" in data else {},
    )
