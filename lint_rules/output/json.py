"""A JSON list of violations (rows and columns 1-based), field names as ruff's."""
from __future__ import annotations

import json
from typing import Sequence

from ..serialize import to_dict
from ..violation import Violation


def render(violations: Sequence[Violation]) -> str:
    return json.dumps([to_dict(v) for v in violations], indent=2) + "\n"
