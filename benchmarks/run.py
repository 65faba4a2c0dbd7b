"""``make bench``: issue 7's table, every row a ratio against its peer measured in the same run,
printed and written to JSON (``.bench-cache/bench.json`` unless ``--json`` says where).

Rows come from ``bench_cold.rows()`` (cold runs, memory, the quadratic case, pytest with the
plugin unused) and, where that module is present, ``bench_warm.rows()`` (warm cache, startup,
``pytest --lora-check`` cached) and ``bench_lsp.rows()`` (the language server's latency from
``didChange`` to diagnostics on a 500-line file, against a fresh ``lora-lint -``; needs the
``lsp`` extra). ruff and Fixit come from ``.bench-venv`` (``make bench`` installs
them there from ``benchmarks/requirements.txt``); the corpora are fetched by ``corpora.py``.
Afterwards ``bench_skeletons`` prints its own lines (not a comparison).
"""
from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_cold  # noqa: E402
import corpora  # noqa: E402
from measure import Row  # noqa: E402


def warm_rows(repeats: int) -> list[Row]:
    """``bench_warm.rows()`` as table rows, if that module exists."""
    if importlib.util.find_spec("bench_warm") is None:
        return []
    import bench_warm

    found = bench_warm.rows(repeats=repeats, source=corpora.transformers_source(), ruff=bench_cold.RUFF)
    return [Row(r.name, r.ours, r.peer, "", r.target) for r in found]


def lsp_rows(repeats: int) -> list[Row]:
    """``bench_lsp.rows()``, if pygls (the ``lsp`` extra) is installed."""
    if importlib.util.find_spec("pygls") is None:
        print("(lsp rows left out: pygls is not installed; pip install 'pytest-lora[lsp]')")
        return []
    import bench_lsp

    return bench_lsp.rows(repeats)


def _bytecode_as_users_have_it() -> None:
    """Every process measured reads compiled modules, as an installed package's users do: the
    project's are compiled now, and ``PYTHONDONTWRITEBYTECODE`` (set in some shells) is not passed
    on, or each run would compile every changed module and pytest rewrite its plugins again."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for package in ("lint_rules", "pytest_lora"):
        compileall.compile_dir(str(HERE.parent / package), quiet=1)


def table(rows: list[Row]) -> list[str]:
    width = max(len(r.name) for r in rows)
    peer_width = max(len(r.peer_name) for r in rows)
    lines = [f"{'case'.ljust(width)}  {'ours':>9}  {'peer':>9}  {'peer'.ljust(peer_width)}  {'ratio':>7}  target"]
    for r in rows:
        lines.append(f"{r.name.ljust(width)}  {r.ours:8.2f}{r.unit:1}  {r.peer:8.2f}{r.unit:1}  "
                     f"{r.peer_name.ljust(peer_width)}  {r.ratio:6.2f}x  <= {r.target}x "
                     f"{'ok' if r.met else 'MISSED'}{'  (' + r.note + ')' if r.note else ''}")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="run only the cold cases whose key contains this "
                                                   "(or 'warm', 'lsp': those rows)")
    parser.add_argument("--json", type=Path, default=corpora.CACHE / "bench.json")
    parser.add_argument("--no-warm", action="store_true")
    parser.add_argument("--no-skeletons", action="store_true")
    parser.add_argument("--counter", choices=("auto", "perf", "callgrind", "none"), default="auto",
                        help="what counts instructions for the pytest row (auto: perf stat where the CPU's "
                             "counter is readable, else callgrind; none: CPU time)")
    args = parser.parse_args(argv)
    _bytecode_as_users_have_it()
    start = time.time()
    rows = bench_cold.rows(args.repeats, args.only, args.counter)
    if not args.no_warm and (not args.only or args.only in "warm"):
        rows += warm_rows(args.repeats)
    if not args.only or args.only in "lsp":
        rows += lsp_rows(args.repeats)
    if not rows:
        parser.error(f"no case matches --only {args.only!r}")
    print("\n".join(table(rows)), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)), "repeats": args.repeats,
        "machine": {"python": platform.python_version(), "cpus": len(os.sched_getaffinity(0))},
        "pins": corpora.PINS, "rows": [r.as_dict() for r in rows]}, indent=2) + "\n")
    print(f"(written to {args.json}; {len([r for r in rows if r.met])} of {len(rows)} targets met)")
    if not args.no_skeletons and not args.only:
        import bench_skeletons

        print("\n".join(bench_skeletons.main()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
