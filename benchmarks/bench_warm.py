"""Warm runs and startup against their peers, measured side by side (issue 7's table):

- ``warm cache``: lora-lint on transformers' source with its cache filled, against ruff with
  its cache (``--select E9,F63``); wall time (ruff runs threads), target <= 2x.
- ``one small file``: lora-lint on one small peft file with its cache filled, and with
  ``--no-cache``, against ``python -c "import libcst"``; CPU time, target <= 1.5x.
- ``pytest --lora-check, cached``: 200 trivial tests and a few peft config files, every file
  already checked, against ``pytest -p no:lora``; CPU time, target <= 1.1x.

``rows(...)`` returns one ``Row`` per case (medians of ``repeats`` interleaved runs of fresh
processes); ``main()`` prints them for ``benchmarks/run.py``. ruff comes from ``$LORA_BENCH_RUFF``
or the ``PATH`` (install it into a separate environment, never the project's); without it that
row is left out. The transformers source is the installed package's folder unless given.

Every Python command here, ours and its peer alike, runs as ``python -S`` with ``PYTHONPATH`` set
to this checkout and the environment's site-packages: what a regular (wheel) install of
lora-lint runs, without the ``.pth`` finder of this checkout's editable install, whose import
costs each process about 20 ms that no user pays (``python -X importtime -c pass``). ``-S``
skips every ``.pth`` file, which none of the measured commands needs. lora-lint runs as users
run it, through its console script (``LORA_LINT``: three lines that import ``lint_rules.cli``),
not as ``python -m lint_rules``, whose ``runpy`` imports ``importlib.util`` and ``contextlib``
(about 10 ms that the console script does not pay).
"""
from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Sequence

ROOT = Path(__file__).resolve().parents[1]
SMALL = ('from peft import LoraConfig\n\n'
         'config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")\n')
TESTS_PER_FILE = 10
RACY_S = 2.1  # lint_rules.cache.RACY_NS (2 s), and a little more


class Row(NamedTuple):
    name: str
    ours: float  # seconds
    peer: float  # seconds
    ratio: float  # ours / peer
    target: float  # the ratio not to exceed

    @property
    def met(self) -> bool:
        return self.ratio <= self.target


def _run(command: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, children included) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _compare(name: str, ours: Sequence[str], peer: Sequence[str], cwd: Path, env: dict[str, str], *,
             repeats: int, target: float, cpu: bool) -> Row:
    """Both commands once to fill their caches, then ``repeats`` interleaved runs each."""
    _run(ours, cwd, env)
    _run(peer, cwd, env)
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(_run(ours, cwd, env)[cpu])
        theirs.append(_run(peer, cwd, env)[cpu])
    a, b = statistics.median(mine), statistics.median(theirs)
    return Row(name, a, b, a / b if b else float("inf"), target)


PYTHON = [sys.executable, "-S"]  # no site: see the module's docstring


def _console_script() -> list[str]:
    """The ``lora-lint`` command as its console script runs it (the installed script, else the
    same lines pip writes for ``[project.scripts]``, written to the temporary folder)."""
    script = Path(sys.executable).parent / "lora-lint"
    if not script.is_file():
        script = Path(tempfile.gettempdir()) / "lora-lint-console-script.py"
        script.write_text("import sys\nfrom lint_rules.cli import main\nif __name__ == '__main__':\n"
                          "    sys.exit(main())\n")
    return [*PYTHON, str(script)]


LORA_LINT = _console_script()


def _env(tmp: Path) -> dict[str, str]:
    """This checkout, then the environment's packages, as ``python -S`` needs them."""
    packages = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "user-cache"),
               PYTHONPATH=os.pathsep.join([str(ROOT), *packages]))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _transformers_source() -> Path | None:
    spec = importlib.util.find_spec("transformers")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


WARM_PAIRS = 21  # runs of 50 ms: a few pairs are at the mercy of one scheduling hiccup
PAIRS = 15  # the other rows' runs take under a second: 3 pairs gave 1.15x to 1.54x for the same code


def warm_row(tmp: Path, source: Path, ruff: str, repeats: int) -> Row:
    """The copy is left alone for ``RACY_S`` before the run that fills the caches: a tree as it
    is between edits. Copied just before, every file and folder changed within the racy window of
    that run, which records none of them as settled, so the first timed runs would still be
    settling what a user's warm run finds settled. At least ``WARM_PAIRS`` pairs."""
    corpus = tmp / "corpus"
    shutil.copytree(source, corpus, ignore=shutil.ignore_patterns("__pycache__"))  # copy2 keeps mtimes
    time.sleep(RACY_S)
    lora = [*LORA_LINT, "-q", "."]
    peer = [ruff, "check", "-q", "--select", "E9,F63", "--cache-dir", str(tmp / "ruff-cache"), "--exit-zero", "."]
    return _compare("transformers' source, warm cache (wall) vs ruff with its cache", lora, peer, corpus,
                    _env(tmp), repeats=max(repeats, WARM_PAIRS), target=2.0, cpu=False)


def small_rows(tmp: Path, repeats: int) -> list[Row]:
    folder = tmp / "small"
    folder.mkdir()
    (folder / "small.py").write_text(SMALL)
    past = time.time() - 3600  # settled, as a file not edited this very second
    os.utime(folder / "small.py", (past, past))
    env, libcst = _env(tmp), [*PYTHON, "-c", "import libcst"]
    lora = [*LORA_LINT, "-q", "small.py"]
    return [
        _compare("one small file, cached (CPU) vs import libcst", lora, libcst, folder, env,
                 repeats=max(repeats, PAIRS), target=1.5, cpu=True),
        _compare("one small file, --no-cache (CPU) vs import libcst", [*lora, "--no-cache"], libcst, folder, env,
                 repeats=max(repeats, PAIRS), target=1.5, cpu=True),
    ]


def pytest_row(tmp: Path, repeats: int, tests: int = 200) -> Row:
    folder = tmp / "suite"
    (folder / "configs").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    for i in range(tests // TESTS_PER_FILE):
        body = "".join(f"def test_{i}_{j}():\n    assert {j} + 1 == {j + 1}\n\n\n" for j in range(TESTS_PER_FILE))
        (folder / f"test_m{i:02}.py").write_text(body)
    for i in range(5):
        (folder / "configs" / f"c{i}.py").write_text(SMALL.replace("r=8", f"r={8 * (i + 1)}").replace(
            "lora_alpha=16", f"lora_alpha={16 * (i + 1)}"))
    past = time.time() - 3600
    for path in folder.rglob("*.py"):
        os.utime(path, (past, past))
    base = [*PYTHON, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist"]
    return _compare(f"pytest --lora-check, {tests} tests, every file cached (CPU) vs -p no:lora",
                    [*base, "--lora-check", "."], [*base, "-p", "no:lora", "."], folder, _env(tmp),
                    repeats=max(repeats, PAIRS), target=1.1, cpu=True)


def rows(*, repeats: int = 5, source: Path | None = None, ruff: str | None = None) -> list[Row]:
    """Every row this module measures (the ruff row only where ruff and the source are found)."""
    ruff = ruff or os.environ.get("LORA_BENCH_RUFF") or shutil.which("ruff")
    source = source or _transformers_source()
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as name:
        tmp = Path(name)
        found = small_rows(tmp, repeats) + [pytest_row(tmp, repeats)]
        if ruff and source is not None:
            found.insert(0, warm_row(tmp, source, ruff, repeats))
    return found


def format_rows(found: Sequence[Row]) -> list[str]:
    width = max(len(r.name) for r in found)
    lines = [f"{'case'.ljust(width)}  {'ours s':>7}  {'peer s':>7}  {'ratio':>6}  target"]
    for r in found:
        lines.append(f"{r.name.ljust(width)}  {r.ours:7.3f}  {r.peer:7.3f}  {r.ratio:5.2f}x  "
                     f"<= {r.target}x {'ok' if r.met else 'MISSED'}")
    return lines


def main() -> list[str]:
    return format_rows(rows())


if __name__ == "__main__":
    print("\n".join(main()))
