"""Cold runs (no cache) on real code against their peers, measured side by side (issue 7's table):

- transformers' source (its sdist's ``src``), wall, against ruff ``--select E9,F63 --no-cache``;
- peft-heavy code (peft's and trl's packages), wall, against Fixit with one trivial rule, and CPU
  against libcst parsing, once, every file whose text holds a trigger of the enabled rules;
- peft's whole sdist (tests included), wall, against a 15 s budget;
- peak memory on one 5 MB file (peft's tests/test_custom_models.py repeated), against its size
  (measured on this kind of machine: 2,539 MB, 509x, before the file was parsed in pieces;
  428 MB, 86x, after);
- the quadratic case: N = 200 functions each with a LoraConfig call, against twice N = 100;
- pytest with 200 trivial tests, the plugin installed but unused, against ``-p no:lora``: the
  median of per-pair ratios of instructions (``perf stat``, else callgrind) or, with neither, of
  CPU time over at least ``PYTEST_PAIRS`` pairs.

Each other figure is the median of ``repeats`` interleaved runs of fresh processes.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import corpora
from measure import Row, instruction_counter, instructions, interleaved, median, pair_ratios, run

ROOT = corpora.ROOT
BENCH_BIN = ROOT / ".bench-venv" / "bin"
RUFF = os.environ.get("LORA_BENCH_RUFF") or str(BENCH_BIN / "ruff")
FIXIT = str(BENCH_BIN / "fixit")
LORA = [sys.executable, "-m", "lint_rules", "--no-cache", "--exit-zero", "-q"]
PARSE_ONCE = """import sys, libcst
names = sys.argv[1].split(",")
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8", errors="replace").read()
    if any(name in text for name in names):
        try:
            libcst.parse_module(text)
        except Exception:
            pass
"""


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp / "user-cache"))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _triggers() -> str:
    sys.path.insert(0, str(ROOT))
    from lint_rules.engine import linter_for

    names = linter_for().prefilter.names
    return ",".join(sorted(names or ()))


PARSE_LISTED = """import sys, libcst
for path in sys.argv[1:]:
    libcst.parse_module(open(path, encoding="utf-8").read())
"""


def transformers_row(tmp: Path, repeats: int) -> Row:
    """The note gives, from the same run, what libcst alone takes to parse the files the enabled
    rules must read (CPU, one process): a floor under lora-lint's time on this corpus."""
    source = str(corpora.transformers_source())
    parsed = _parsed_files(corpora.python_files([Path(source)]))
    ours, ruff, floor = interleaved([[*LORA, source], [RUFF, "check", "--isolated", "--no-cache", "--select", "E9,F63",
                                                        "--exit-zero", "-q", source],
                                     [sys.executable, "-c", PARSE_LISTED, *parsed]], repeats, cwd=tmp, env=_env(tmp))
    files = len(corpora.python_files([Path(source)]))
    return Row(f"transformers' source ({files} files), cold, wall", median(ours), median(ruff),
               "ruff E9,F63 --no-cache", 1.0,
               note=f"libcst alone parsing the {len(parsed)} files the rules read: {median(floor, 'cpu'):.2f} s CPU")


class _Parsed(Exception):
    pass


def _parsed_files(paths: list[Path]) -> list[str]:
    """The files lora-lint hands to libcst (those its prefilter lets through), found by linting
    each one up to its parse."""
    sys.path.insert(0, str(ROOT))
    from lint_rules import engine

    def stop(self: object, source: str, pieces: object) -> None:
        raise _Parsed

    linter = engine.linter_for()
    found = []
    real = engine.Linter._parse
    engine.Linter._parse = stop  # type: ignore[method-assign]
    try:
        for path in paths:
            try:
                linter.lint(path.read_text(encoding="utf-8", errors="replace"), str(path))
            except _Parsed:
                found.append(str(path))
            except Exception:
                continue
    finally:
        engine.Linter._parse = real  # type: ignore[method-assign]
    return found


def peft_heavy_rows(tmp: Path, repeats: int) -> list[Row]:
    paths = [str(p) for p in corpora.peft_heavy()]
    files = [str(p) for p in corpora.python_files([Path(p) for p in paths])]
    ours, fixit, parse = interleaved([
        [*LORA, *paths],
        [FIXIT, "--rules", "fixit.rules:NoRedundantFString", "lint", *paths],
        [sys.executable, "-c", PARSE_ONCE, _triggers(), *files],
    ], repeats, cwd=tmp, env=_env(tmp), ok=range(256))
    name = f"peft-heavy code (peft + trl packages, {len(files)} files), cold"
    return [Row(f"{name}, wall", median(ours), median(fixit), "Fixit, one trivial rule", 0.1),
            Row(f"{name}, CPU", median(ours, "cpu"), median(parse, "cpu"),
                "libcst parse of files with a trigger", 1.3)]


def peft_whole_row(tmp: Path, repeats: int) -> Row:
    source = corpora.peft_whole()
    [ours] = interleaved([[*LORA, str(source)]], repeats, cwd=tmp, env=_env(tmp))
    files = len(corpora.python_files([source]))
    return Row(f"peft's whole sdist, tests included ({files} files), cold, wall", median(ours), 15.0,
               "15 s budget", 1.0)


LINT_ONE = """import sys
from lint_rules.engine import linter_for
path = sys.argv[1]
linter_for().lint(open(path, encoding="utf-8").read(), path)
"""


TREE_ONLY = """import sys
from lint_rules.parsing import parse_pieces, split
text = open(sys.argv[1], encoding="utf-8").read()
module = parse_pieces(text, split(text).cuts)
"""


def memory_row(tmp: Path) -> Row:
    """The file is over ``lora-lint``'s size limit for a source that uses peft (2 MB), so the
    engine lints its text directly, in a fresh process."""
    path = corpora.big_file(tmp)
    done = run([sys.executable, "-c", LINT_ONE, str(path)], tmp, _env(tmp))
    if done.returncode:
        raise RuntimeError(f"linting {path} exited {done.returncode}")
    size = path.stat().st_size / 2**20
    tree = run([sys.executable, "-c", TREE_ONLY, str(path)], tmp, _env(tmp))
    return Row("peak memory, one 5 MB file (peft's test_custom_models.py x15)", done.peak_mb, size,
               "the file's size", 20.0, unit="MB",
               note=f"{done.wall:.1f} s; libcst's tree of the file alone, parsed as lora-lint parses it: "
                    f"{tree.peak_mb:.0f} MB")


def quadratic_row(tmp: Path, repeats: int) -> Row:
    small, large = corpora.quadratic_file(tmp, 100), corpora.quadratic_file(tmp, 200)
    n100, n200 = interleaved([[*LORA, str(small)], [*LORA, str(large)]], repeats, cwd=tmp, env=_env(tmp))
    return Row("quadratic case: N=200 LoraConfig calls in one file, wall", median(n200), 2 * median(n100),
               "2 x (N=100)", 2.0)


PYTEST_PAIRS = 15  # the plugin costs about 0.4% of a 0.9 s run, one CPU-time pair varies by more
CALLGRIND_PAIRS = 1  # callgrind runs about 50 times slower; its count of a run repeats to 0.01%


def pytest_unused_row(tmp: Path, repeats: int, counter: str | None, tests: int = 200) -> Row:
    """The ratio is the median of per-pair ratios: of instructions where ``counter`` counts them,
    else of CPU time (said in the row). Both commands run the same interpreter and site, so the
    development install's ``.pth`` finder is imported on both sides and pytest_lora is found on
    ``PYTHONPATH`` ahead of it; only ours imports and registers the plugin."""
    suite = tmp / "suite"
    suite.mkdir()
    (suite / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    for i in range(tests // 10):
        (suite / f"test_m{i:02}.py").write_text(
            "".join(f"def test_{i}_{j}():\n    assert {j} + 1 == {j + 1}\n\n\n" for j in range(10)))
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly"]
    commands, env = [base, [*base, "-p", "no:lora"]], _env(tmp)
    pairs = max(PYTEST_PAIRS, repeats)
    ours, peer = interleaved(commands, pairs, cwd=suite, env=env)
    cpu = pair_ratios([r.cpu for r in ours], [r.cpu for r in peer])
    name = f"pytest, {tests} trivial tests, plugin installed but unused"
    if counter is None:
        return Row(f"{name}, CPU", median(ours, "cpu"), median(peer, "cpu"), "pytest -p no:lora", 1.03,
                   pair_ratio=cpu, note=f"median of {pairs} per-pair CPU ratios; instructions not counted "
                                        "(neither perf stat nor valgrind works here, or --counter none)")
    counted: list[list[float]] = [[], []]
    rounds = CALLGRIND_PAIRS if counter == "callgrind" else pairs
    fixed = {**env, "PYTHONHASHSEED": "0"}  # the same dict and set layouts in every counted run
    for round_ in range(rounds):
        for i in (1, 0) if round_ % 2 else (0, 1):
            counted[i].append(instructions(commands[i], counter, suite, fixed) / 1e9)
    return Row(f"{name}, instructions", statistics.median(counted[0]), statistics.median(counted[1]),
               "pytest -p no:lora", 1.03, unit="G", pair_ratio=pair_ratios(*counted),
               note=f"{counter}, {rounds} pair(s); CPU: {cpu:.3f}x, median of {pairs} per-pair ratios")


def rows(repeats: int = 5, only: str = "", counter: str = "auto") -> list[Row]:
    """``counter``: what counts instructions for the pytest row (``auto``: ``instruction_counter()``;
    ``none``: CPU time only)."""
    found_counter = instruction_counter() if counter == "auto" else None if counter == "none" else counter
    cases = {
        "transformers": lambda tmp: [transformers_row(tmp, repeats)],
        "peft-heavy": lambda tmp: peft_heavy_rows(tmp, repeats),
        "peft-whole": lambda tmp: [peft_whole_row(tmp, max(1, repeats // 2))],
        "memory": lambda tmp: [memory_row(tmp)],
        "quadratic": lambda tmp: [quadratic_row(tmp, repeats)],
        "pytest": lambda tmp: [pytest_unused_row(tmp, repeats, found_counter)],
    }
    found: list[Row] = []
    for name, case in cases.items():
        if only and only not in name:
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            found.extend(case(Path(tmp)))
    return found
