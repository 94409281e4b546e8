"""A bounded priority queue worked by one thread, so the receive thread never waits on scoring.

Jobs run in small steps: takes (priority 0) go before the next step of any batch (priority 1), but after
TAKES_PER_BATCH_STEP take steps in a row a waiting batch gets one step (a micro-batch), so a stream of
takes cannot stall a batch. A take waiting for Live to finish writing its file steps aside instead of
holding the worker.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Hashable
from typing import Protocol

log = logging.getLogger(__name__)

TAKE = 0
BATCH = 1
TAKES_PER_BATCH_STEP = 4  # a batch's fair share under a stream of takes: one micro-batch per this many takes


class Job(Protocol):
    priority: int
    key: Hashable  # what `cancel` names

    def step(self) -> float | None:
        """Do the next piece of work; None when finished, else seconds until the next step (0 = soon)."""

    def cancel(self) -> bool:
        """Ask the job to end at its next step; False when it has already sent its terminal reply."""

    def fail(self, exc: BaseException) -> None:
        """A step raised something unexpected: send the terminal error reply."""


class WorkQueue:
    """At most `capacity` unfinished jobs; `submit` refuses more so the caller can answer `busy`."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._cond = threading.Condition()
        self._ready: dict[int, list[tuple[int, int, Job]]] = {TAKE: [], BATCH: []}
        self._takes_in_row = 0
        self._waiting: list[tuple[float, int, Job]] = []
        self._jobs: set[Job] = set()
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="loopbridge-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def submit(self, job: Job) -> bool:
        with self._cond:
            if len(self._jobs) >= self.capacity or self._stopped:
                return False
            self._jobs.add(job)
            self._push(job)
            self._cond.notify()
            return True

    def cancel(self, key: Hashable) -> bool:
        """Ask every unfinished job with this key to stop; False when there is none."""
        with self._cond:
            found = [j for j in self._jobs if j.key == key]
        return any([job.cancel() for job in found])  # a list: every match is told

    def jobs(self) -> list[Job]:
        with self._cond:
            return list(self._jobs)

    def __len__(self) -> int:
        with self._cond:
            return len(self._jobs)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                while self._waiting and self._waiting[0][0] <= now:
                    self._push(heapq.heappop(self._waiting)[2])
                takes, batches = self._ready[TAKE], self._ready[BATCH]
                if takes and (not batches or self._takes_in_row < TAKES_PER_BATCH_STEP):
                    self._takes_in_row += 1 if batches else 0
                    return heapq.heappop(takes)[2]
                if batches:
                    self._takes_in_row = 0
                    return heapq.heappop(batches)[2]
                self._cond.wait(self._waiting[0][0] - now if self._waiting else None)
            return None

    def _push(self, job: Job) -> None:
        heapq.heappush(self._ready[TAKE if job.priority <= TAKE else BATCH], (job.priority, next(self._seq), job))

    def _run(self) -> None:
        while (job := self._next()) is not None:
            try:
                delay = job.step()
            except Exception as exc:
                log.exception("request %s failed unexpectedly", job.key)
                try:
                    job.fail(exc)
                except Exception:
                    log.exception("could not report the failure of %s", job.key)
                delay = None
            with self._cond:
                if delay is None:
                    self._jobs.discard(job)
                elif delay <= 0:
                    self._push(job)
                else:
                    heapq.heappush(self._waiting, (time.monotonic() + delay, next(self._seq), job))
