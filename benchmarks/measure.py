"""Timing fresh processes side by side: wall, CPU and peak memory of one run; medians of
interleaved runs; instructions executed (``perf stat`` or valgrind's callgrind, where either
works here); a ``Row`` of the table (ours against a peer measured in the same run)."""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence


@dataclass
class Row:
    name: str
    ours: float
    peer: float
    peer_name: str
    target: float  # the ratio ours / peer not to exceed
    unit: str = "s"
    note: str = ""
    pair_ratio: float | None = None  # the median of per-pair ratios, where the row is measured in pairs

    @property
    def ratio(self) -> float:
        if self.pair_ratio is not None:
            return self.pair_ratio
        return self.ours / self.peer if self.peer else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio <= self.target

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 3), "met": self.met}


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds, the process and the children it waited for
    peak_mb: float  # the largest resident set of the process or a child it waited for
    returncode: int


def run(command: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """One fresh process, its output discarded."""
    start = time.perf_counter()
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)


def interleaved(commands: Sequence[Sequence[str]], repeats: int, *, cwd: Path | None = None,
                env: dict[str, str] | None = None, ok: Sequence[int] = (0, 1)) -> list[list[Run]]:
    """``repeats`` runs of each command, taking turns (the order alternates each round)."""
    runs: list[list[Run]] = [[] for _ in commands]
    for round_ in range(repeats):
        order = list(range(len(commands)))
        if round_ % 2:
            order.reverse()
        for i in order:
            done = run(commands[i], cwd, env)
            if done.returncode not in ok:
                raise RuntimeError(f"{' '.join(commands[i])} exited {done.returncode}")
            runs[i].append(done)
    return runs


def median(runs: list[Run], what: str = "wall") -> float:
    return statistics.median(getattr(r, what) for r in runs)


def pair_ratios(ours: list[float], peer: list[float]) -> float:
    """The median of the ratios of runs made one after the other (``interleaved``'s rounds): a
    slower stretch of a shared machine slows both runs of a pair, where it moves one median alone."""
    return statistics.median(a / b for a, b in zip(ours, peer))


def instruction_counter() -> str | None:
    """``perf`` where ``perf stat`` reads the CPU's instruction counter (not in most containers),
    else ``callgrind`` where valgrind is installed (about 50 times slower, but the count barely
    moves between runs), else None."""
    if shutil.which("perf"):
        with tempfile.NamedTemporaryFile("r") as out:
            done = subprocess.run(["perf", "stat", "-x", ",", "-e", "instructions:u", "-o", out.name, "--", "true"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode == 0 and _perf_count(out.read()) is not None:
                return "perf"
    return "callgrind" if shutil.which("valgrind") else None


def _perf_count(text: str) -> int | None:
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].isdigit():
            return int(fields[0])
    return None


def instructions(command: Sequence[str], counter: str, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> int:
    """The user-space instructions one fresh process executes (``counter`` as
    ``instruction_counter`` names it), its output discarded."""
    with tempfile.TemporaryDirectory(prefix="bench-count-") as tmp:
        log = Path(tmp) / "count"
        if counter == "perf":
            wrapper = ["perf", "stat", "-x", ",", "-e", "instructions:u", "-o", str(log), "--"]
        else:
            wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.devnull}", f"--log-file={log}"]
        done = subprocess.run([*wrapper, *command], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        text = log.read_text() if log.exists() else ""
    if counter == "perf":
        count = _perf_count(text)
    else:
        collected = re.search(r"Collected : (\d+)", text)
        count = int(collected.group(1)) if collected else None
    if done.returncode != 0 or count is None:
        raise RuntimeError(f"{counter} could not count {' '.join(command)} (exit {done.returncode})")
    return count
