"""Helpers for the technical-check tests: generated loops written as real files and read back as recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import write_audio

from loopbridge import synth
from loopbridge.audio import NativeAudio, read_native

# (sample rate, file subtype): the layouts a producer's takes come in
FORMATS = [(44_100, "PCM_16"), (48_000, "PCM_24"), (48_000, "FLOAT")]


def loop(seed: int, sr: int = 48_000, channels: int = 1, **kw) -> synth.Loop:
    """A short loop (2 bars at 140 BPM, about 3.4 s) unless told otherwise."""
    kw.setdefault("bpm", 140)
    kw.setdefault("bars", 2)
    return synth.make_loop(seed, sr=sr, channels=channels, **kw)


def as_file(tmp: Path, name: str, y: np.ndarray, sr: int = 48_000, subtype: str = "PCM_24") -> NativeAudio:
    """Write y to a WAV and read it back through read_native, as `loopbridge check` would."""
    return read_native(write_audio(tmp / f"{name}.wav", y, sr, subtype))


def with_defect(lp: synth.Loop, kind: str, seed: int = 0) -> tuple[np.ndarray, synth.Defect]:
    return synth.inject(lp.samples, lp.sample_rate, kind, np.random.default_rng(seed))


def kinds(findings) -> set[str]:
    return {f.kind for f in findings}
