"""Generate lint_rules/analysis/child_fields.json: the order in which libcst visits each node
type's children (``lint_rules.analysis.walk``), read from the installed libcst's source.

Rerun it when the libcst pin in constraints.txt changes; ``--check`` writes nothing and fails
when the file would change. Under another libcst version the walker derives the order itself.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lint_rules.analysis.walk import LIBCST_VERSION, TABLE, derive_child_fields  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    text = json.dumps({"libcst": LIBCST_VERSION, "fields": derive_child_fields()}, indent=1, sort_keys=True) + "\n"
    if args.check:
        if TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE} is out of date: run scripts/gen_child_fields.py", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
