"""Load any audio file the user gives us, validate it, and bring it to what the encoder hears (48 kHz mono)."""

from __future__ import annotations

import itertools
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError
from .limits import MAX_SECONDS as DEFAULT_MAX_SECONDS  # the names the rest of the code reads
from .limits import SAMPLE_RATE

SILENCE_PEAK = 10 ** (-90 / 20)  # below -90 dBFS nothing audible was recorded

AUDIO_EXTENSIONS = (".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".mp3")
REGION_SLACK_S = 0.05  # an end this far past the file's end is the file's end (rounding of warped clip markers)

Region = tuple[float, float | None]  # (start_s, end_s or None for "to the end"), seconds of the file


@dataclass(frozen=True)
class NativeAudio:
    """The file as recorded: native rate and channel layout, which the technical checks need."""

    path: str
    samples: np.ndarray  # (frames, channels) float32
    sample_rate: int
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    @property
    def channels(self) -> int:
        return self.samples.shape[1]


@dataclass(frozen=True)
class Clip:
    """What the encoder hears, plus the native audio it came from."""

    path: str
    samples: np.ndarray  # (n,) float32 at SAMPLE_RATE
    native: NativeAudio  # only the region, when one was asked for
    region: tuple[float, float] | None = None  # the part of the file decoded (seconds), None for all of it

    @property
    def duration_s(self) -> float:
        return self.native.duration_s

    @property
    def is_silent(self) -> bool:
        """Silence is a valid take, but worth telling the user about."""
        return not self.samples.size or float(np.max(np.abs(self.samples))) < SILENCE_PEAK


def read_native(
    path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS, region: Region | None = None
) -> NativeAudio:
    """Decode a file (or only `region` of it) at its native rate and channels; AudioError says why it can't be used."""
    return read_region(path, max_seconds, region)[0]


def read_region(
    path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS, region: Region | None = None
) -> tuple[NativeAudio, tuple[float, float] | None]:
    """read_native plus the region actually decoded, in seconds of the file (None for the whole file)."""
    p = Path(path)
    try:
        kind = _file_kind(p, str(path))
        if kind is not None:
            raise AudioError(p, "not_a_file", f"is {kind}, not an audio file; only regular files are read")
        return _read_native(p, max_seconds, region)
    except OSError as exc:  # permissions, a vanished network drive, …
        raise AudioError(path, "unreadable", f"cannot be read ({exc.strerror or exc})") from exc


def _file_kind(p: Path, raw: str) -> str | None:
    """What a path is when it is not a regular file, found by stat alone: opening a FIFO would block.

    `raw` is the path as given: Path() drops a trailing slash, and "take.wav/" does not name the file.
    """
    try:
        mode = os.stat(raw).st_mode
    except FileNotFoundError:
        raise AudioError(p, "missing", "file not found") from None
    except NotADirectoryError:  # "take.wav/x" or "take.wav/"
        raise AudioError(p, "missing", "file not found (a part of the path is a file, not a folder)") from None
    if stat.S_ISDIR(mode):
        raise AudioError(p, "is_directory", "is a folder, not an audio file")
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _read_native(p: Path, max_seconds: float, region: Region | None) -> tuple[NativeAudio, tuple[float, float] | None]:
    with _open(p) as f:
        first, last = _bounds(p, f, max_seconds, region)
        try:
            if first:
                f.seek(first)
            samples = f.read(last - first, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(p, "not_audio", f"could not be decoded ({_short(exc, p)})") from exc
        sr, subtype = int(f.samplerate), f.subtype
    if samples.shape[0] == 0:
        raise AudioError(p, "empty", "contains no audio (zero length)")
    if not np.isfinite(samples).all():
        raise AudioError(p, "non_finite", "contains NaN or infinite samples")
    decoded = None if region is None else (first / sr, last / sr)
    return NativeAudio(str(p), samples, sr, subtype), decoded


def _open(p: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if p.stat().st_size == 0:
            raise AudioError(p, "empty", "file is empty (0 bytes)") from exc
        raise AudioError(p, "not_audio", f"not a readable audio file ({_short(exc, p)})") from exc


def _bounds(p: Path, f: sf.SoundFile, max_seconds: float, region: Region | None) -> tuple[int, int]:
    """The frames to decode, from the header alone: refused before decoding when too long or outside the file."""
    if region is not None and region[1] is not None and region[1] <= region[0]:
        raise AudioError(p, "bad_region", f"region ends ({region[1]:g} s) before it starts ({region[0]:g} s)")
    if f.frames == 0 or f.samplerate <= 0:
        raise AudioError(p, "empty", "contains no audio (zero length)")
    sr = int(f.samplerate)
    first, last = (0, f.frames) if region is None else _region_frames(p, region, f.frames, sr)
    seconds = (last - first) / sr
    if seconds > max_seconds:
        what = "the region" if region is not None else "it"
        raise AudioError(p, "too_long", f"{what} is {seconds:.1f} s long; the limit is {max_seconds:.0f} s")
    return first, last


def probe(
    path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS, region: Region | None = None
) -> tuple[float, float]:
    """(start_s, end_s) of the file that `load` would decode, read from the header only; the same errors as `load`."""
    p = Path(path)
    try:
        kind = _file_kind(p, str(path))
        if kind is not None:
            raise AudioError(p, "not_a_file", f"is {kind}, not an audio file; only regular files are read")
        with _open(p) as f:
            first, last = _bounds(p, f, max_seconds, region)
            return first / f.samplerate, last / f.samplerate
    except OSError as exc:
        raise AudioError(path, "unreadable", f"cannot be read ({exc.strerror or exc})") from exc


def load_blocks(path: str | Path, span: tuple[float, float], block_s: float = 30.0) -> Iterator[Clip]:
    """A long take as consecutive clips of `block_s` (each with its region), so memory stays one block's worth.

    `span` is the (start_s, end_s) that `probe` gave: the caller has read the header and checked the length.
    """
    start, end = span
    edges = np.linspace(start, end, max(1, round((end - start) / block_s)) + 1)  # equal blocks, no sliver at the end
    for a, b in itertools.pairwise(edges):
        yield load(path, math.inf, (float(a), float(b)))


def _region_frames(p: Path, region: Region, frames: int, sr: int) -> tuple[int, int]:
    """Frame bounds of a region; refuse one that starts past the end or ends well beyond it."""
    start, end = region
    length = frames / sr
    if start < 0 or start >= length:
        raise AudioError(p, "bad_region", f"region starts at {start:g} s, outside the file (0 to {length:.3f} s)")
    if end is not None and end > length + REGION_SLACK_S:
        raise AudioError(p, "bad_region", f"region ends at {end:g} s, after the file's end ({length:.3f} s)")
    first = round(start * sr)
    last = frames if end is None else min(frames, round(end * sr))
    if last <= first:
        raise AudioError(p, "bad_region", f"region {start:g}–{end:g} s holds no samples")
    return first, last


def to_mono_48k(native: NativeAudio) -> np.ndarray:
    """Mix down and resample exactly as the encoder expects (soxr, high quality)."""
    x = native.samples
    mono = x[:, 0].copy()
    for c in range(1, x.shape[1]):  # column adds: ~20x faster than x.mean(axis=1) on interleaved frames
        mono += x[:, c]
    if x.shape[1] > 1:
        mono *= np.float32(1.0 / x.shape[1])
    if native.sample_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, native.sample_rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def load(path: str | Path, max_seconds: float = DEFAULT_MAX_SECONDS, region: Region | None = None) -> Clip:
    """Decode (only `region` of) a file and resample after: checks and encoder see the region, times from its start."""
    native, decoded = read_region(path, max_seconds, region)
    return Clip(native.path, to_mono_48k(native), native, decoded)


def is_audio_path(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files stay as given; folders contribute their audio files, recursively, in a stable order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_audio_path(f)))
        else:
            out.append(p)
    return out


def _short(exc: Exception, path: Path) -> str:
    """libsndfile's first line, without the path it repeats (it names the resolved file, not the one asked for)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.replace(f"Error opening '{path}': ", "").replace(f"'{path}'", "the file")
    return text[:160]
