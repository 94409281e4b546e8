"""Which files a request may read, and whether a take Live is still writing can be read yet.

Live writes the take as recording ends, and some writers fill in the header last, so a file that
does not decode, or changes while we read it, gets a little time before it counts as broken.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import soundfile as sf

from .. import audio
from ..audio import Clip
from ..errors import AudioError
from . import protocol

DEFAULT_WAIT_S = 3.0
SETTLE_S = 0.25  # a file untouched this long is finished: its decode errors are real
RETRY_S = 0.05  # how often a file still being written is looked at again
QUIET_S = 0.1  # a file that decodes is scored once it has been untouched this long
TRUNCATED_QUIET_S = (
    1.0  # ...or this long when its header promises more audio than it holds (a recorder paused mid-write)
)


def resolve_request_path(raw: str, allow_roots: list[Path] | None) -> Path:
    """The absolute, symlink-free path a request names, if it lies under an allowed root (when any are set)."""
    p = Path(raw).expanduser()
    if not p.is_absolute():
        raise AudioError(raw, protocol.BAD_ARGUMENT, "path must be absolute (the server does not know your folder)")
    resolved = p.resolve(strict=False)
    if allow_roots and not any(resolved.is_relative_to(root) for root in allow_roots):
        raise AudioError(raw, protocol.OUTSIDE_ROOT, "is outside the folders this server may read (--allow-root)")
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


def try_load(path: Path, max_seconds: float = audio.DEFAULT_MAX_SECONDS) -> Clip | None:
    """The decoded take, None while it is still being written, or AudioError when it is finished but unusable."""
    before = _stamp(path)
    if before is not None and not path.is_dir() and _age(before) < QUIET_S:
        return None
    try:
        clip = audio.load(path, max_seconds)
    except AudioError as exc:
        if exc.code in ("missing", "is_directory") or before is None:
            raise
        if _stamp(path) != before or _age(before) < SETTLE_S:
            return None
        raise
    if _stamp(path) != before:
        return None
    if _age(before) < TRUNCATED_QUIET_S and _header_promises_more(path):
        return None
    return clip


def wait_and_load(path: Path, timeout_s: float, max_seconds: float = audio.DEFAULT_MAX_SECONDS) -> Clip:
    """Blocking form of try_load for batch files, which are rarely still being written."""
    deadline = time.monotonic() + timeout_s
    while (clip := try_load(path, max_seconds)) is None:
        if time.monotonic() >= deadline:
            raise incomplete(path, timeout_s)
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


def _age(stamp: tuple[int, int]) -> float:
    return time.time() - stamp[1] / 1e9


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
