"""Timing fresh processes side by side: wall, CPU and peak memory of one run; medians of
interleaved runs; a ``Row`` of the table (ours against a peer measured in the same run)."""
from __future__ import annotations

import os
import statistics
import subprocess
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

    @property
    def ratio(self) -> float:
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
