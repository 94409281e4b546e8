"""The raw take, prepared once for every check: absolute values, per-channel peaks, a 1 ms peak envelope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..audio import NativeAudio

TINY = 1e-10  # -200 dB: keeps logarithms finite


def db(x: float | np.ndarray) -> float | np.ndarray:
    """Amplitude ratio to decibels, floored at -200 dB."""
    return 20.0 * np.log10(np.maximum(np.abs(x), TINY))


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of True in a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.view(np.int8) if mask.dtype == bool else mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


@dataclass(frozen=True)
class Where:
    """Where a measurement found its worst case, for the message and the finding's span."""

    start_s: float = 0.0
    duration_s: float = 0.0
    note: str = ""


_BPM = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)\s*[-_ ]?\s*bpm", re.IGNORECASE)


def tempo_from_name(path: str) -> float | None:
    """The tempo a sample pack writes into a loop's name ("bass_124bpm_Am.wav"), if any."""
    m = _BPM.search(Path(path).stem)
    bpm = float(m.group(1)) if m else None
    return bpm if bpm is not None and 40.0 <= bpm <= 300.0 else None


class Take:
    """A NativeAudio with the arrays several checks share, each computed on first use."""

    def __init__(self, native: NativeAudio, tempo_bpm: float | None = None) -> None:
        self.native = native
        self.tempo_bpm = tempo_bpm or tempo_from_name(native.path)
        self.x = np.ascontiguousarray(native.samples.T)  # (channels, frames): each channel contiguous, which is faster
        self.sr = native.sample_rate
        self.channels, self.frames = self.x.shape

    @cached_property
    def abs(self) -> np.ndarray:
        return np.abs(self.x)

    @cached_property
    def peaks(self) -> np.ndarray:
        """Sample peak per channel."""
        return self.abs.max(axis=1)

    @property
    def peak(self) -> float:
        return float(self.peaks.max())

    @cached_property
    def env_hop(self) -> int:
        return max(1, self.sr // 1000)

    @cached_property
    def env(self) -> np.ndarray:
        """Peak level of every 1 ms frame over all channels (a trailing partial frame is dropped)."""
        a = self.abs.max(axis=0) if self.channels > 1 else self.abs[0]
        n = a.size // self.env_hop
        return a[: n * self.env_hop].reshape(n, self.env_hop).max(axis=1)

    @cached_property
    def loud(self) -> float:
        """The level the instrument plays at: the 90th percentile of the sounding 1 ms frames' peaks."""
        e = self.env[self.env > 0]
        return float(np.percentile(e, 90)) if e.size else 0.0

    def seconds(self, index: int | float) -> float:
        return float(index) / self.sr
