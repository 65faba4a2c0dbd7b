"""Worker processes that may die: every item gets a result, and no worker outlives the run.

``run_pool(func, items, jobs, ...)`` hands items to workers in chunks over one pipe each; a
worker sends one result per item. Every worker is started before any is given work, and each
holds the next chunk while it works on one, so none waits for the parent. Forked workers have
the items already (they inherit the parent's memory): they are sent only the items' indexes,
and the parent never pickles an item (a file's text). When a worker dies (a segfault, ``os._exit``, the OOM
killer), the item it was working on gets ``on_death(item, why)``, the rest of its chunk goes
back in the queue and a new worker takes over. Workers end with their parent: on Linux the
kernel kills them (``PR_SET_PDEATHSIG``), elsewhere they notice while waiting for work; a
SIGTERM to the parent stops the workers before the parent dies of it.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Sequence

_PR_SET_PDEATHSIG = 1
_IDLE_CHECK_S = 1.0


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker(conn: Connection, parent: int, others: Sequence[Connection], func: Callable[[Any], Any],
            initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
            items: Sequence[Any] | None) -> None:
    """Run ``func`` on each item of each chunk received (``items[i]`` for an index ``i`` when
    ``items`` was inherited, else ``(i, item)``) and send back ``(i, result)``; end on ``None``."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the workers
    for other in others:  # the parent's ends of other workers' pipes, inherited through fork
        other.close()
    if initializer is not None:
        initializer(*initargs)
    while True:
        while not conn.poll(_IDLE_CHECK_S):
            if os.getppid() != parent:
                os._exit(1)
        chunk = conn.recv()
        if chunk is None:
            return
        for entry in chunk:
            index, item = (entry, items[entry]) if items is not None else entry
            conn.send((index, func(item)))


class _Worker:
    def __init__(self, context: Any, others: list[Connection], func: Callable[[Any], Any],
                 initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
                 items: Sequence[Any] | None) -> None:
        self.conn, child = context.Pipe()
        inherited = others if context.get_start_method() == "fork" else []
        self.process = context.Process(target=_worker, daemon=True,
                                       args=(child, os.getpid(), inherited, func, initializer, initargs, items))
        self.process.start()
        child.close()
        self.pending: deque[tuple[int, Any]] = deque()


def run_pool(func: Callable[[Any], Any], items: Sequence[Any], jobs: int, *,
             on_death: Callable[[Any, str], Any], initializer: Callable[..., None] | None = None,
             initargs: tuple[Any, ...] = (), chunksize: int = 1) -> list[Any]:
    """``[func(item) for item in items]`` computed by ``jobs`` worker processes; an item whose
    worker died gets ``on_death(item, why)`` instead."""
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
    forked = context.get_start_method() == "fork"  # the workers inherit ``items``: send indexes
    queue = deque((i, item) for i, item in enumerate(items))
    results: list[Any] = [None] * len(items)
    done = 0
    workers: list[_Worker] = []

    def start() -> _Worker:
        worker = _Worker(context, [w.conn for w in workers], func, initializer, initargs, items if forked else None)
        workers.append(worker)
        return worker

    def feed(worker: _Worker) -> None:
        """The next chunk (``None`` when there is none: the worker ends once it has sent the
        results it owes)."""
        chunk = [queue.popleft() for _ in range(min(chunksize, len(queue)))]
        worker.pending.extend(chunk)
        try:
            worker.conn.send(([index for index, _ in chunk] if forked else chunk) if chunk else None)
        except OSError:  # it died between two chunks: the next wait sees it
            pass

    previous = signal.getsignal(signal.SIGTERM) if _may_handle_sigterm() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        for _ in range(min(jobs, len(items))):
            start()
        for worker in [*workers, *workers]:  # a chunk to work on and the next one
            if queue:
                feed(worker)
        while done < len(items):
            busy = [w for w in workers if w.pending]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    while worker.pending and worker.conn.poll():
                        index, result = worker.conn.recv()
                        worker.pending.popleft()
                        results[index] = result
                        done += 1
                except (EOFError, OSError):
                    pass
                if worker.pending and not worker.process.is_alive():
                    index, item = worker.pending.popleft()
                    results[index] = on_death(item, _why(worker.process.exitcode))
                    done += 1
                    queue.extendleft(reversed(worker.pending))
                    worker.pending.clear()
                    worker.conn.close()
                    workers.remove(worker)
                    if queue:
                        feed(start())
                elif queue and len(worker.pending) <= chunksize or not worker.pending:
                    feed(worker)  # the chunk after the one it works on (or None: nothing is left)
    except _Terminated:
        previous = _stop(workers, previous)
        os.kill(os.getpid(), signal.SIGTERM)  # end as SIGTERM would, now that the workers are gone
        raise
    finally:
        _stop(workers, previous, wait_s=5 if done == len(items) else 0)
    return results


def _stop(workers: list[_Worker], previous: Any, wait_s: float = 0) -> None:
    """Join the workers (kill those still running after ``wait_s``), restore the SIGTERM handler."""
    for worker in workers:
        worker.process.join(timeout=wait_s)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
    workers.clear()
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    return None


def _why(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class _Terminated(BaseException):
    """SIGTERM arrived while the pool ran."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


def _may_handle_sigterm() -> bool:
    """Only the main thread can set a handler, and one the program set is left alone."""
    import threading

    return threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
