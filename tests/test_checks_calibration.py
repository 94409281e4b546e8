"""Calibration moves limits both ways, within physical bounds: tighter toward a clean library, looser for a trait."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_checks import as_file, kinds, loop
from scipy.signal import fftconvolve, lfilter

from loopbridge import checks


@pytest.fixture(scope="module")
def clean_calibration(tmp_path_factory):
    """A library far cleaner than the built-in limits: DC near -150 dBFS, hiss 60 dB or more under the music."""
    tmp = tmp_path_factory.mktemp("lib")
    return checks.calibrate(as_file(tmp, f"l{i}", loop(100 + i).samples) for i in range(12))


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(y**2)))


def test_rules_move_only_where_they_may(clean_calibration) -> None:
    for (rule, default), (_, calibrated) in zip(checks.limits(), checks.limits(clean_calibration), strict=True):
        stricter = calibrated < default if rule.worse == "high" else calibrated > default
        if rule.tightest is None:
            assert not stricter, rule.stat
        else:  # tightened at most to its bound
            assert (calibrated >= rule.tightest) if rule.worse == "high" else (calibrated <= rule.tightest), rule.stat
    tightened = {
        r.stat for (r, d), (_, c) in zip(checks.limits(), checks.limits(clean_calibration), strict=True) if c < d
    }
    assert {"dc_offset_db", "hiss_below_music_db", "burst_db"} <= tightened


def test_a_clean_library_catches_a_small_dc_offset_but_not_converter_dc(tmp_path, clean_calibration) -> None:
    y = loop(7).samples
    small = as_file(tmp_path, "dc46", y + 10 ** (-45 / 20))
    assert "dc_offset" not in kinds(checks.run_checks(small))  # the built-in -40 dBFS misses it
    assert "dc_offset" in kinds(checks.run_checks(small, clean_calibration))
    converter = as_file(tmp_path, "dc60", y + 10 ** (-60 / 20))  # what an ordinary interface leaves
    assert "dc_offset" not in kinds(checks.run_checks(converter, clean_calibration))


def test_a_clean_library_catches_hiss_40_db_under_the_music(tmp_path, clean_calibration) -> None:
    for seed in range(3):
        y = loop(10 + seed).samples
        noisy = y + _rms(y) * 10 ** (-40 / 20) * np.random.default_rng(seed).standard_normal(y.shape)
        assert "noise" in kinds(checks.run_checks(as_file(tmp_path, f"h{seed}", noisy), clean_calibration)), seed
        assert checks.run_checks(as_file(tmp_path, f"c{seed}", y), clean_calibration) == [], seed


def test_a_clean_library_catches_a_burst_20_db_under_the_loop(tmp_path, clean_calibration) -> None:
    found = 0
    for seed in range(4):
        y = loop(20 + seed, instrument="guitar", style="clean").samples.copy()
        n, i = 4800, 48_000
        y[i : i + n] += _rms(y) * 0.1 * np.random.default_rng(seed).standard_normal(n)
        f = [f for f in checks.run_checks(as_file(tmp_path, f"b{seed}", y), clean_calibration) if f.kind == "noise"]
        found += bool(f) and abs(f[0].start_s - 1.0) < 0.05
    assert found >= 3


def _damped_reverb(y: np.ndarray, seed: int) -> np.ndarray:
    """A dark, long hall applied around the loop (circularly, as a loop's tail wraps to its start)."""
    n = 2 * 48_000
    ir = np.random.default_rng(seed).standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir = lfilter([0.15], [1, -0.85], ir)  # highs die first in a real room
    wet = fftconvolve(np.tile(y, 2), ir)[y.size : 2 * y.size]
    return 0.7 * y + 0.7 * wet * np.abs(y).max() / np.abs(wet).max()


def _breathy(y: np.ndarray, seed: int) -> np.ndarray:
    """Air that follows the notes, as a breathy synth or a bowed sound has."""
    env = np.convolve(np.abs(y), np.ones(480) / 480, "same")
    return y + 0.3 * env * np.random.default_rng(seed).standard_normal(y.size)


@pytest.mark.parametrize(
    "make",
    [_damped_reverb, _breathy, lambda y, s: loop(200 + s, instrument="guitar", style="distorted").samples],
    ids=["reverb", "breathy", "distorted"],
)
def test_a_library_with_the_trait_is_not_flagged_for_it(tmp_path, make) -> None:
    library = [as_file(tmp_path, f"l{i}", make(loop(300 + i).samples, i)) for i in range(8)]
    calibration = checks.calibrate(library)
    for seed in range(3):
        take = as_file(tmp_path, f"t{seed}", make(loop(400 + seed).samples, 50 + seed))
        assert "noise" not in kinds(checks.run_checks(take, calibration)), seed


def test_a_library_with_short_silent_gaps_relaxes_dropouts(tmp_path) -> None:
    def picked(seed: int, gap_ms: int) -> np.ndarray:
        y = loop(seed, instrument="bass", style="finger").samples.copy()
        if gap_ms:
            i = int(1.2 * 48_000)
            y[i : i + gap_ms * 48] = 0.0  # digital silence between two picked notes
        return y

    library = [as_file(tmp_path, f"l{i}", picked(500 + i, [0, 0, 0, 4, 0, 7][i])) for i in range(6)]
    calibration = checks.calibrate(library)
    take = as_file(tmp_path, "take", picked(600, 6))
    assert "dropout" in kinds(checks.run_checks(take))
    assert "dropout" not in kinds(checks.run_checks(take, calibration))
    long_gap = as_file(tmp_path, "long", picked(601, 40))
    assert "dropout" in kinds(checks.run_checks(long_gap, calibration))
