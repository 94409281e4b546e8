"""Heads that train epoch by epoch (the torch ones) in worker processes, one per core, while the caller goes on.

A Deep SVDD head trains for tens of seconds on one thread (more threads only add sync cost to nets this small),
so on a machine with several cores `fit` trains them side by side and measures the library meanwhile. Processes,
not threads: each head seeds torch's global generator (weight init, dropout), so results stay those of a
sequential fit with the same `--seed`. Workers are spawned, not forked: the parent already holds ONNX Runtime's
and tqdm's threads.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.pool import AsyncResult, Pool
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from loopbridge import heads_registry

if TYPE_CHECKING:
    from .detector import Detector
    from .fit import FitOptions

TrainOne = Callable[[str, np.ndarray, "FitOptions", int], "Detector"]


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def trains_long(name: str) -> bool:
    """Heads that need torch are the ones trained epoch by epoch; the others fit in well under a second."""
    return heads_registry.get(name).extra == "torch"


class HeadPool:
    """`with HeadPool(X, opts, train_one) as pool: ...; detectors = pool.results()` — the long-training heads of
    `opts.heads` start in workers on entry (when `opts.jobs` > 1), the others train in this process in `results`,
    which returns every head in `opts.heads` order."""

    def __init__(self, X: np.ndarray, opts: FitOptions, train_one: TrainOne) -> None:
        self.X, self.opts, self.train_one = X, opts, train_one
        self.background = [h for h in opts.heads if trains_long(h)] if opts.jobs > 1 else []
        self.pool: Pool | None = None
        self.pending: dict[str, AsyncResult[Detector]] = {}

    def __enter__(self) -> HeadPool:
        if self.background:
            self.pool = multiprocessing.get_context("spawn").Pool(min(self.opts.jobs, len(self.background)))
            self.pending = {
                h: self.pool.apply_async(self.train_one, (h, self.X, self.opts, i + 1))
                for i, h in enumerate(self.background)
            }
        return self

    def results(self) -> dict[str, Detector]:
        here = {h: self.train_one(h, self.X, self.opts, 0) for h in self.opts.heads if h not in self.pending}
        there = {h: r.get() for h, r in self.pending.items()}
        return {h: here[h] if h in here else there[h] for h in self.opts.heads}

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """On an error (or Ctrl-C) the workers still training are stopped, not waited for."""
        if self.pool is None:
            return
        if exc is None:
            self.pool.close()
        else:
            self.pool.terminate()
        self.pool.join()
