"""Cut a live input stream into takes: a take starts when the signal rises above a gate and ends after it
has stayed below the gate for a release time (kept, so the decay is part of the take)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio import Clip, NativeAudio, to_mono_48k
from .results import TakeResult


class TakeSplitter:
    def __init__(
        self,
        sample_rate: int,
        gate_db: float = -45.0,
        release_s: float = 1.5,
        min_take_s: float = 0.5,
        max_take_s: float = 120.0,
        pre_roll_s: float = 0.05,
    ) -> None:
        self.sample_rate = sample_rate
        self.gate = 10 ** (gate_db / 20)
        self.release = int(release_s * sample_rate)
        self.min_take = int(min_take_s * sample_rate)
        self.max_take = int(max_take_s * sample_rate)
        self._pre_roll: deque[np.ndarray] = deque()
        self._pre_roll_len = int(pre_roll_s * sample_rate)
        self._take: list[np.ndarray] = []
        self._take_len = 0
        self._quiet = 0

    @property
    def recording(self) -> bool:
        return bool(self._take)

    def feed(self, block: np.ndarray) -> list[np.ndarray]:
        """Add a (frames, channels) block; returns the takes it completed (usually none)."""
        block = np.asarray(block, dtype=np.float32)
        loud = block.size > 0 and float(np.max(np.abs(block))) >= self.gate
        done: list[np.ndarray] = []
        if not self.recording:
            if loud:
                self._take = [*self._pre_roll, block]  # keep the attack that preceded the gate
                self._take_len = sum(len(b) for b in self._take)
                self._pre_roll.clear()
                self._quiet = 0
            else:
                self._remember(block)
            return done
        self._take.append(block)
        self._take_len += len(block)
        self._quiet = 0 if loud else self._quiet + len(block)
        if self._quiet >= self.release or self._take_len >= self.max_take:
            take = self.flush()
            if take is not None:
                done.append(take)
        return done

    def flush(self) -> np.ndarray | None:
        """End the current take (stream stopped); None if it was too short to be music."""
        take = np.concatenate(self._take) if self._take else None
        self._take, self._take_len, self._quiet = [], 0, 0
        return take if take is not None and len(take) >= self.min_take else None

    def _remember(self, block: np.ndarray) -> None:
        self._pre_roll.append(block)
        while sum(len(b) for b in self._pre_roll) - len(self._pre_roll[0]) >= self._pre_roll_len:
            self._pre_roll.popleft()


def score_stream(
    blocks: Iterable[np.ndarray],
    splitter: TakeSplitter,
    score: Callable[[list[Clip]], list[TakeResult]],
    save_dir: Path | None = None,
) -> Iterator[TakeResult]:
    """Score every take in a stream of (frames, channels) blocks; optionally keep each take as a WAV file."""
    count = 0

    def finish(take: np.ndarray) -> TakeResult:
        nonlocal count
        count += 1
        name = f"take {count}"
        if save_dir is not None:
            name = str(_save(take, splitter.sample_rate, save_dir))
        native = NativeAudio(name, take, splitter.sample_rate, "FLOAT")
        return score([Clip(name, to_mono_48k(native), native)])[0]

    for block in blocks:
        for take in splitter.feed(block):
            yield finish(take)
    last = splitter.flush()
    if last is not None:
        yield finish(last)


def _save(take: np.ndarray, sample_rate: int, folder: Path) -> Path:
    """A new file per take; never replaces one that exists."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 100_000):
        path = folder / f"take-{i:04d}.wav"
        try:
            with open(path, "xb") as f:
                sf.write(f, take, sample_rate, format="WAV", subtype="FLOAT")
            return path
        except FileExistsError:
            continue
    raise OSError(f"{folder} holds too many takes")
