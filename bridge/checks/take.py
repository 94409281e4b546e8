"""The raw take, prepared once for every check: absolute values, peaks, 1 ms block peaks and sums, second difference."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..audio import NativeAudio

T = TypeVar("T")
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
    """A NativeAudio with the arrays several checks share, each computed once on first use.

    The checks must cost only milliseconds, so full-length passes over the samples happen here, once:
    the absolute values, the signed second difference (clicks; hiss takes its fourth difference from it),
    and 1 ms per-channel block peaks and sums (envelope, gaps, DC offset, the ~1 kHz mono copy for hum).
    Everything stays float32 at full rate.
    """

    def __init__(self, native: NativeAudio, tempo_bpm: float | None = None) -> None:
        self.native = native
        self.tempo_bpm = tempo_bpm or tempo_from_name(native.path)
        # (channels, frames): each channel contiguous, which is faster
        self.x = np.ascontiguousarray(native.samples.T, dtype=np.float32)
        self.sr = native.sample_rate
        self.channels, self.frames = self.x.shape
        self._once: dict[Callable, object] = {}

    def once(self, measurement: Callable[[Take], T]) -> T:
        """measurement(self), computed once per take: one check reuses what another measured."""
        if measurement not in self._once:
            self._once[measurement] = measurement(self)
        return self._once[measurement]  # type: ignore[return-value]

    @cached_property
    def abs(self) -> np.ndarray:
        return np.abs(self.x)

    @cached_property
    def peaks(self) -> np.ndarray:
        """Sample peak per channel."""
        return self.abs.max(axis=1) if self.frames else np.zeros(self.channels, np.float32)

    @property
    def peak(self) -> float:
        return float(self.peaks.max())

    @cached_property
    def env_hop(self) -> int:
        return max(1, self.sr // 1000)

    @cached_property
    def _blocks(self) -> np.ndarray:
        """Start index of every whole 1 ms block (a trailing partial block is left out)."""
        return np.arange(0, (self.frames // self.env_hop) * self.env_hop, self.env_hop)

    @cached_property
    def block_peaks(self) -> np.ndarray:
        """Peak of every 1 ms block, per channel: (channels, blocks)."""
        if not self._blocks.size:
            return np.zeros((self.channels, 0), np.float32)
        return np.maximum.reduceat(self.abs[:, : self._blocks[-1] + self.env_hop], self._blocks, axis=1)

    @cached_property
    def block_sums(self) -> np.ndarray:
        """Sum of every 1 ms block, per channel: (channels, blocks); a block-averaged copy at ~1 kHz."""
        if not self._blocks.size:
            return np.zeros((self.channels, 0), np.float32)
        return np.add.reduceat(self.x[:, : self._blocks[-1] + self.env_hop], self._blocks, axis=1)

    @cached_property
    def env(self) -> np.ndarray:
        """Peak level of every 1 ms frame over all channels (a trailing partial frame is dropped)."""
        return self.block_peaks.max(axis=0) if self.channels > 1 else self.block_peaks[0]

    @cached_property
    def loud(self) -> float:
        """The level the instrument plays at: the 90th percentile of the sounding 1 ms frames' peaks."""
        e = self.env[self.env > 0]
        return float(np.percentile(e, 90)) if e.size else 0.0

    @cached_property
    def d2(self) -> np.ndarray:
        """Signed second difference per channel, (channels, frames - 2); d2[:, i] is centred on sample i + 1."""
        x = self.x
        d = np.subtract(x[:, 2:], x[:, 1:-1])
        d -= x[:, 1:-1]
        d += x[:, :-2]
        return d

    def seconds(self, index: int | float) -> float:
        return float(index) / self.sr
