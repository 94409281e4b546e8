"""Polarity over time: a channel flipped for part of a take is found with its bars; stereo effects are left alone."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_checks import as_file, loop
from scipy.signal import fftconvolve

from loopbridge import checks

SR = 48_000


def _flip(y: np.ndarray, start_s: float, end_s: float, channel: int = 0) -> np.ndarray:
    y = y.copy()
    y[int(start_s * SR) : int(end_s * SR), channel] *= -1.0
    return y


def _reverb(mono: np.ndarray, rng: np.random.Generator, t60_s: float, dry: float) -> np.ndarray:
    """A wide hall: independent decaying noise responses per side (fully decorrelated tails)."""
    n = int(t60_s * SR)
    env = np.exp(-6.9 * np.arange(n) / n)
    wet = [fftconvolve(mono, rng.standard_normal(n) * env)[: mono.size] for _ in range(2)]
    gain = np.abs(mono).max() / max(np.abs(w).max() for w in wet)
    return np.stack([dry * mono + gain * w for w in wet], axis=1) * 0.5


def _chorus(mono: np.ndarray, depth_ms: float = 8.0, rate_hz: float = 0.8) -> np.ndarray:
    """Two delay lines swept in opposite phase, one per side."""
    t = np.arange(mono.size)
    sides = []
    for phase in (0.0, np.pi):
        delay = (10 + depth_ms * (1 + np.sin(2 * np.pi * rate_hz * t / SR + phase)) / 2) * SR / 1000
        sides.append(0.5 * mono + 0.5 * np.interp(t - delay, t, mono))
    return np.stack(sides, axis=1)


def _ping_pong(mono: np.ndarray, bpm: float, feedback: float = 0.7) -> np.ndarray:
    """Dotted-eighth echoes bouncing right, left, right …, the dry signal on the left only."""
    d = int(60 / bpm * 0.75 * SR)
    sides = [mono.copy(), np.zeros_like(mono)]
    for k in range(1, 8):
        if k * d < mono.size:
            sides[k % 2][k * d :] += mono[: mono.size - k * d] * feedback**k
    return np.stack(sides, axis=1) * 0.6


def test_a_channel_flipped_for_two_bars_is_told_which_bars(tmp_path) -> None:
    lp = loop(3, channels=2, bpm=120, bars=4)  # 2 s bars
    y = _flip(lp.samples, 2.0, 6.0)
    (f,) = [f for f in checks.run_checks(as_file(tmp_path, "flip", y), tempo_bpm=120) if f.kind == "polarity"]
    assert abs(f.start_s - 2.0) < 0.06
    assert abs(f.duration_s - 4.0) < 0.12
    assert "bars 2–3" in f.message
    assert "mono sum loses" in f.message
    # without a tempo the stretch is given in seconds
    (g,) = [f for f in checks.run_checks(as_file(tmp_path, "flip", y)) if f.kind == "polarity"]
    assert "from 2.00 s to 6.00 s" in g.message
    assert "bar" not in g.message


@pytest.mark.parametrize(("share", "instrument"), [(0.15, "bass"), (0.3, "guitar"), (0.5, "bass"), (0.9, "guitar")])
def test_partial_flips_from_15_to_90_percent_are_found(tmp_path, share, instrument) -> None:
    for seed in range(2):
        lp = loop(seed, channels=2, bpm=120, bars=4, instrument=instrument)
        start = 1.0 + seed
        y = _flip(lp.samples, start, start + share * 8.0, channel=seed)
        native = as_file(tmp_path, f"p{seed}", y)
        assert checks.measure(native)["lr_correlation"] > -0.3 or share > 0.5  # the whole-take rule alone misses these
        (f,) = [f for f in checks.run_checks(native) if f.kind == "polarity"]
        assert abs(f.start_s - start) < 0.1, (seed, f)


def _effect(effect: str, mono: np.ndarray, bpm: float, rng: np.random.Generator) -> np.ndarray:
    if effect == "reverb":
        return _reverb(mono, rng, 2.5, dry=0.0)  # fully wet: nothing but decorrelated tails
    if effect == "dry_reverb":
        return _reverb(mono, rng, 1.2, dry=1.0)
    return _chorus(mono) if effect == "chorus" else _ping_pong(mono, bpm)


@pytest.mark.parametrize("effect", ["reverb", "dry_reverb", "chorus", "ping_pong"])
def test_no_false_alarms_on_wide_stereo_effects(tmp_path, effect) -> None:
    for seed in range(4):
        lp = loop(seed, bpm=100 + 15 * seed, bars=2)
        y = _effect(effect, lp.samples, lp.bpm, np.random.default_rng(seed))
        native = as_file(tmp_path, f"{effect}{seed}", y)
        assert checks.measure(native)["flipped_s"] < 0.2, seed
        assert "polarity" not in {f.kind for f in checks.run_checks(native)}, seed
