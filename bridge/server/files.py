"""Which files a request may read, and whether a take Live is still writing can be read yet.

Live writes the take as recording ends, some writers pause between flushes and some fill in the header
last, so a file is read only once it has settled (see Watch), and one that does not decode, or changes
while we read it, gets a little time before it counts as broken.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from .. import audio, pipeline
from ..audio import Clip
from ..errors import AudioError
from . import protocol

DEFAULT_WAIT_S = 3.0
RETRY_S = 0.05  # how often a file still being written is looked at again
QUIET_S = 0.1  # a file nobody wrote to lately is read once it has been untouched this long
SETTLE_S = 0.6  # ...one written to just before the request, or while we wait, once untouched this long
GAP_FACTOR = 2.0  # ...or for twice the longest pause seen between its writes, when that is longer
BROKEN_S = 0.25  # a file that does not decode counts as broken once untouched this long
TRUNCATED_QUIET_S = 1.0  # a WAV/AIFF whose header promises more audio than it holds waits this long at least


def resolve_request_path(raw: str, allow_roots: list[Path] | None) -> Path:
    """The absolute, symlink-free path a request names, if it lies under an allowed root (when any are set)."""
    p = Path(raw).expanduser()
    if not p.is_absolute():
        raise AudioError(raw, protocol.BAD_ARGUMENT, "path must be absolute (the server does not know your folder)")
    resolved = p.resolve(strict=False)
    if allow_roots and not any(resolved.is_relative_to(root) for root in allow_roots):
        raise AudioError(raw, protocol.OUTSIDE_ROOT, "is outside the folders this server may read (--allow-root)")
    if raw.endswith(("/", os.sep)) and not resolved.is_dir():  # Path() drops the slash that says "a folder"
        raise AudioError(
            raw, protocol.BAD_ARGUMENT, "ends with '/', which names a folder; send the file's path without it"
        )
    return resolved


def resolve_roots(roots: list[str | Path]) -> list[Path]:
    """Roots resolved like request paths, so a symlinked root still matches what lies under it."""
    out = []
    for r in roots:
        p = Path(r).expanduser().resolve(strict=False)
        if not p.is_dir():
            raise AudioError(r, "missing", "--allow-root must name an existing folder")
        out.append(p)
    return out


@dataclass(frozen=True)
class LongTake:
    """A finished take longer than pipeline.LONG_TAKE_S: not decoded here, the scorer reads it block by block."""

    path: Path
    region: audio.Region | None = None


class Watch:
    """One file a request waits for, until it is finished being written (the rule is in docs/PROTOCOL.md).

    Finished means: size and modification time unchanged for a settle time, and a WAV/AIFF header that
    does not promise more audio than the file holds. The settle time adapts to the writer: QUIET_S for a
    file nobody touched in the SETTLE_S before the request arrived, else SETTLE_S or GAP_FACTOR times the
    longest pause seen between its writes. A file that is still 0 bytes is waited for until `wait_s` passes.
    `poll` never opens a file before `stat` says it is a regular file (a FIFO would block the worker).
    """

    def __init__(
        self,
        path: Path,
        wait_s: float = DEFAULT_WAIT_S,
        max_seconds: float = audio.DEFAULT_MAX_SECONDS,
        region: audio.Region | None = None,
        received: float | None = None,
    ) -> None:
        self.path, self.wait_s, self.max_seconds, self.region = path, wait_s, max_seconds, region
        self.received = time.time() if received is None else received  # wall clock, like mtimes
        self.deadline = time.monotonic() + wait_s
        self.stamp = _stamp(path)
        self.longest_gap_s = 0.0
        self.fresh = self.stamp is not None and self.received - self.stamp[1] / 1e9 < SETTLE_S

    @property
    def settle_s(self) -> float:
        if not self.fresh:
            return QUIET_S
        return min(max(SETTLE_S, GAP_FACTOR * self.longest_gap_s), self.wait_s)

    def poll(self) -> Clip | LongTake | None:
        """The decoded take (a long one is left to be read in blocks), None while it may still be written,
        AudioError when finished but unusable.

        Past the deadline it no longer returns None: a file still changing is `incomplete`.
        """
        stamp = self._observe()
        final = time.monotonic() >= self.deadline
        if stamp is None or stat.S_ISDIR(stamp[2]) or not stat.S_ISREG(stamp[2]):
            return audio.load(self.path, self.max_seconds, self.region)  # raises missing / is_directory / not_a_file
        age = time.time() - stamp[1] / 1e9
        if not final and stamp[0] == 0 and age < self.wait_s:
            return None  # created, not written yet
        if age < self.settle_s:
            if final:
                raise incomplete(self.path, self.wait_s)
            return None
        try:
            start, end = audio.probe(self.path, self.max_seconds, self.region)
            clip: Clip | LongTake = (
                LongTake(self.path, self.region)
                if end - start > pipeline.LONG_TAKE_S
                else audio.load(self.path, self.max_seconds, self.region)
            )
        except AudioError as exc:
            if final or exc.code in _FINISHED_CODES or (_stamp(self.path) == stamp and age >= BROKEN_S):
                raise
            return None
        if _stamp(self.path) != stamp:
            return None  # written to while we read it
        if not final and age < max(TRUNCATED_QUIET_S, self.settle_s) and _header_promises_more(self.path):
            return None
        return clip

    def _observe(self) -> tuple[int, int, int] | None:
        """Stat the file; a change since the last look makes it fresh and may lengthen the settle time."""
        stamp = _stamp(self.path)
        if stamp is not None and stamp != self.stamp:
            if self.stamp is not None and self.stamp[0] > 0:  # the wait before the first write is no pause
                self.longest_gap_s = max(self.longest_gap_s, (stamp[1] - self.stamp[1]) / 1e9)
            self.fresh = True
            self.stamp = stamp
        return stamp


# Errors no amount of waiting changes: the file's kind, and a region past its end once it is settled.
_FINISHED_CODES = ("missing", "is_directory", "not_a_file", "too_long")


def wait_and_load(
    path: Path,
    timeout_s: float,
    max_seconds: float = audio.DEFAULT_MAX_SECONDS,
    region: audio.Region | None = None,
) -> Clip | LongTake:
    """Blocking form of Watch.poll for batch files, which are rarely still being written."""
    watch = Watch(path, timeout_s, max_seconds, region)
    while (clip := watch.poll()) is None:
        time.sleep(RETRY_S)
    return clip


def incomplete(path: Path, timeout_s: float) -> AudioError:
    return AudioError(
        path,
        protocol.INCOMPLETE,
        f"was still being written after {timeout_s:g} s; try again when recording has finished",
    )


_PROMISES_MORE = re.compile(r"\(should be \d+\)")  # not "should be an even number of bytes", a harmless quirk


def _header_promises_more(path: Path) -> bool:
    """libsndfile notes "(should be N)" when a WAV/AIFF header's sizes exceed the file: it is still being written."""
    try:
        return _PROMISES_MORE.search(sf.info(str(path)).extra_info) is not None
    except (sf.LibsndfileError, RuntimeError):
        return False


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime in ns, mode), or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_mode
