"""Technical checks on real files: each defect is found where it is, clean loops (hard attacks included) are left alone."""

from __future__ import annotations

import json

import numpy as np
import pyloudnorm
import pytest
from helpers_checks import FORMATS, as_file, kinds, loop, with_defect

from loopbridge import checks
from loopbridge.checks.level import integrated_loudness
from loopbridge.results import Finding

# generated defect → the check that must report it
EXPECTED = {
    "clipping": "clipping",
    "click": "click",
    "dropout": "dropout",
    "dc_offset": "dc_offset",
    "polarity": "polarity",
    "truncation": "truncation",
    "hum": "noise",
    "hiss": "noise",
    "noise_burst": "noise",
    "level": "level",
}


@pytest.mark.parametrize(("sr", "subtype"), FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_each_defect_is_found_and_its_clean_loop_is_not(tmp_path, defect, channels, sr, subtype) -> None:
    lp = loop(seed=5, sr=sr, channels=channels)
    clean = checks.run_checks(as_file(tmp_path, "clean", lp.samples, sr, subtype))
    assert clean == []
    y, _ = with_defect(lp, defect, seed=1)
    found = checks.run_checks(as_file(tmp_path, defect, y, sr, subtype))
    assert EXPECTED[defect] in kinds(found), found
    assert all(0 < f.severity <= 1 for f in found)
    assert [f.severity for f in found] == sorted((f.severity for f in found), reverse=True)


HARD_CLEAN = [
    dict(instrument="bass", style="slap"),
    dict(instrument="bass", style="finger", bpm=75, bars=1),
    dict(instrument="guitar", style="palm_muted", bpm=165),
    dict(instrument="guitar", style="distorted"),
    dict(instrument="guitar", style="clean", rest_start=True, noise_floor_db=None),  # starts in digital silence
    dict(instrument="bass", style="finger", rest_start=True, wrap_tail=True),  # the last note rings into the start
    dict(instrument="bass", style="slap", peak_db=-1.0),
]


@pytest.mark.parametrize("options", HARD_CLEAN, ids=lambda o: "-".join(str(v) for v in o.values()))
@pytest.mark.parametrize(("sr", "subtype", "channels"), [(44_100, "PCM_16", 2), (48_000, "PCM_24", 1)])
def test_no_false_alarms_on_hard_but_clean_loops(tmp_path, options, sr, subtype, channels) -> None:
    for seed in range(3):
        lp = loop(seed, sr=sr, channels=channels, **options)
        native = as_file(tmp_path, f"clean{seed}", lp.samples, sr, subtype)
        assert checks.run_checks(native) == [], (seed, lp.style)


def _one(findings: list[Finding], kind: str) -> Finding:
    (f,) = [f for f in findings if f.kind == kind]
    return f


def test_click_is_located_to_the_millisecond(tmp_path) -> None:
    lp = loop(2, instrument="bass", style="finger")
    y, d = with_defect(lp, "click", seed=4)
    f = _one(checks.run_checks(as_file(tmp_path, "c", y)), "click")
    assert abs(f.start_s - d.start_s) < 0.001
    assert f"{d.start_s:.2f} s" in f.message


def test_clipping_message_counts_samples_and_places_them(tmp_path) -> None:
    lp = loop(3, instrument="guitar", style="clean")
    y = lp.samples.copy()
    i = int(np.argmax(np.abs(y)))
    y[i - 17 : i + 17] = np.sign(y[i]) * 0.999  # one crest flattened at the converter's ceiling
    y = np.clip(y / 0.999, -1, 1)
    f = _one(checks.run_checks(as_file(tmp_path, "clip", y, subtype="PCM_24")), "clipping")
    assert "clipped 34 samples around" in f.message
    assert abs(f.start_s - (i - 17) / 48_000) < 0.001


def test_dropout_is_located_and_timed(tmp_path) -> None:
    lp = loop(4, instrument="bass", style="finger")
    y, d = with_defect(lp, "dropout", seed=3)
    f = _one(checks.run_checks(as_file(tmp_path, "d", y)), "dropout")
    assert abs(f.start_s - d.start_s) < 0.002
    assert abs(f.duration_s - d.duration_s) < 0.003


def test_noise_burst_is_located_and_attacks_are_not_bursts(tmp_path) -> None:
    for seed, style in enumerate(("slap", "finger")):  # slap: a bright thwack on every note, never 30 ms long
        lp = loop(seed, instrument="bass", style=style)
        assert checks.measure(as_file(tmp_path, f"clean{seed}", lp.samples))["burst_db"] < 30.0
        y, d = with_defect(lp, "noise_burst", seed=seed)
        f = _one(checks.run_checks(as_file(tmp_path, f"b{seed}", y)), "noise")
        assert "noise burst" in f.message
        assert abs(f.start_s - d.start_s) < 0.03, (f, d)
        assert abs(f.duration_s - d.duration_s) < 0.05, (f, d)


def test_take_that_stops_dead_into_silence_is_truncated_not_a_dropout(tmp_path) -> None:
    lp = loop(6, instrument="guitar", style="clean")
    y = lp.samples.copy()
    cut = int(0.7 * y.size)
    y[cut:] = 0.0
    found = checks.run_checks(as_file(tmp_path, "t", y))
    f = _one(found, "truncation")
    assert "dropout" not in kinds(found)
    assert abs(f.start_s - cut / 48_000) < 0.002


def test_a_loop_whose_end_jumps_at_the_seam_is_truncated(tmp_path) -> None:
    lp = loop(7, instrument="bass", style="finger", noise_floor_db=None)
    y, _d = with_defect(lp, "truncation", seed=2)
    f = _one(checks.run_checks(as_file(tmp_path, "t", y)), "truncation")
    assert abs(f.start_s + f.duration_s - y.shape[0] / 48_000) < 0.001


@pytest.mark.parametrize(("sr", "subtype", "channels"), [(48_000, "PCM_24", 1), (44_100, "PCM_16", 2)])
def test_hum_is_reported_as_hum_not_as_a_loop_that_was_cut_off(tmp_path, sr, subtype, channels) -> None:
    # mains hum runs on through the seam in the room, not in the loop: the raw seam jumps on every one of these
    for seed in range(4):
        lp = loop(seed, sr=sr, channels=channels)
        y, _ = with_defect(lp, "hum", seed=seed)
        native = as_file(tmp_path, f"hum{seed}", y, sr, subtype)
        assert checks.measure(native)["abrupt_end_db"] < 15.0, seed
        found = kinds(checks.run_checks(native))
        assert "noise" in found, (seed, found)
        assert "truncation" not in found, (seed, found)
        # the same loop really cut off mid-note is still truncated, with or without the hum
        cut, _ = with_defect(lp, "truncation", seed=seed)
        assert "truncation" in kinds(checks.run_checks(as_file(tmp_path, f"cut{seed}", cut, sr, subtype))), seed
    cut_humming, _ = synth_inject(
        with_defect(loop(0, sr=sr, channels=channels), "truncation", seed=0)[0], "hum", seed=0, sr=sr
    )
    assert {"truncation", "noise"} <= kinds(checks.run_checks(as_file(tmp_path, "cut_hum", cut_humming, sr, subtype)))


def test_true_peak_over_zero_between_samples(tmp_path) -> None:
    sr = 48_000
    t = np.arange(sr) / sr
    y = 1.2 * np.sin(2 * np.pi * sr / 4 * t + np.pi / 4)  # samples at ±0.85, the waveform between them at ±1.2
    native = as_file(tmp_path, "tp", y.astype(np.float32), subtype="FLOAT")
    assert np.abs(native.samples).max() < 0.9
    stats = checks.measure(native)
    assert stats["true_peak_db"] == pytest.approx(20 * np.log10(1.2), abs=0.1)
    assert "dBTP" in _one(checks.run_checks(native), "clipping").message


def test_float_file_over_full_scale_is_reported(tmp_path) -> None:
    lp = loop(8)
    y = lp.samples / np.abs(lp.samples).max() * 1.5
    f = _one(checks.run_checks(as_file(tmp_path, "over", y, subtype="FLOAT")), "clipping")
    assert "above full scale" in f.message


@pytest.mark.parametrize(("sr", "channels"), [(44_100, 2), (48_000, 1)])
def test_loudness_matches_pyloudnorm(sr, channels) -> None:
    y = loop(9, sr=sr, channels=channels).samples.reshape(-1, channels).astype(np.float64)
    expected = pyloudnorm.Meter(sr).integrated_loudness(y)
    assert integrated_loudness(np.ascontiguousarray(y.T), sr) == pytest.approx(expected, abs=0.02)
    # hard clipping (square-ish waves, the worst case for the per-step spectra) and a far too quiet take
    for z in (np.clip(8 * y / np.abs(y).max(), -1, 1), y * 0.01):
        expected = pyloudnorm.Meter(sr).integrated_loudness(z)
        assert integrated_loudness(np.ascontiguousarray(z.T), sr) == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize(
    ("level_db", "severity", "words"),
    [(None, 1.0, "silent take"), (-75.0, 0.9, "nearly silent: the loudest moment is -75")],
)
def test_silent_and_near_silent_takes_get_one_silence_reason(tmp_path, level_db, severity, words) -> None:
    y = np.zeros((48_000, 2), np.float32)
    if level_db is not None:  # an unplugged input: the converter's noise floor only
        y += np.random.default_rng(0).uniform(-1, 1, y.shape).astype(np.float32) * 10 ** (level_db / 20)
    native = as_file(tmp_path, "silent", y)
    (f,) = checks.run_checks(native)
    assert (f.kind, f.severity, f.start_s, f.duration_s) == ("silence", severity, 0.0, 1.0)
    assert words in f.message
    _findings, margins = checks.evaluate(native)
    assert margins["silence"] > 0
    assert max(v for k, v in margins.items() if k != "silence") < 0


def test_quiet_playing_is_not_silence(tmp_path) -> None:
    y = loop(1).samples * 10 ** (-50 / 20) / np.abs(loop(1).samples).max()  # peaks at -50 dBFS
    assert kinds(checks.run_checks(as_file(tmp_path, "quiet", y))) == {"level"}


def test_tiny_files_give_no_findings(tmp_path) -> None:
    tiny = as_file(tmp_path, "tiny", (0.3 * np.sin(np.arange(200) / 5)).astype(np.float32))
    assert isinstance(checks.run_checks(tiny), list)  # 4 ms: nothing to judge, nothing crashes
    assert checks.check_score([]) == 0.0


def test_several_defects_are_all_reported_worst_first(tmp_path) -> None:
    lp = loop(10, channels=2)
    y, _ = with_defect(lp, "dc_offset", seed=1)
    y, _ = synth_inject(y, "polarity", seed=2)
    y, _ = synth_inject(y, "click", seed=3)
    found = checks.run_checks(as_file(tmp_path, "many", y))
    assert {"dc_offset", "polarity", "click"} <= kinds(found)
    assert len(found) == len(kinds(found))  # one finding per kind, extra evidence merged into its message
    assert checks.check_score(found) == found[0].severity == max(f.severity for f in found)


def synth_inject(y, kind, seed, sr=48_000):
    from loopbridge import synth

    return synth.inject(y, sr, kind, np.random.default_rng(seed))


# ---- calibration -------------------------------------------------------------------------------


def _crushed(seed: int, drive_db: float) -> np.ndarray:
    """A distorted guitar bounced hot: a little clipping on every take is this library's sound."""
    y = loop(seed, instrument="guitar", style="distorted").samples
    return np.clip(y / np.abs(y).max() * 10 ** (drive_db / 20), -1.0, 1.0)


def test_calibration_accepts_what_the_whole_library_shares_and_still_catches_worse(tmp_path) -> None:
    library = [as_file(tmp_path, f"lib{i}", _crushed(i, 1.0)) for i in range(6)]
    calibration = checks.calibrate(library)
    assert calibration["n"] == 6
    take = as_file(tmp_path, "take", _crushed(20, 1.0))
    assert "clipping" in kinds(checks.run_checks(take))  # the built-in limits call it clipped
    assert "clipping" not in kinds(checks.run_checks(take, calibration))  # for this library it is normal
    smashed = as_file(tmp_path, "smashed", _crushed(21, 9.0))
    assert "clipping" in kinds(checks.run_checks(smashed, calibration))  # far beyond the library: still flagged


def test_calibration_of_a_lofi_library_tolerates_its_hiss(tmp_path) -> None:
    def lofi(seed: int, hiss_db: float) -> np.ndarray:
        return loop(seed, noise_floor_db=hiss_db).samples

    calibration = checks.calibrate([as_file(tmp_path, f"l{i}", lofi(i, -52.0)) for i in range(6)])
    take = as_file(tmp_path, "take", lofi(30, -52.0))
    assert "noise" in kinds(checks.run_checks(take))
    assert "noise" not in kinds(checks.run_checks(take, calibration))
    assert "noise" in kinds(checks.run_checks(as_file(tmp_path, "worse", lofi(31, -30.0)), calibration))


def test_calibration_survives_json_and_still_catches_clicks(tmp_path) -> None:
    library = [as_file(tmp_path, f"c{i}", loop(i).samples) for i in range(4)]
    calibration = json.loads(json.dumps(checks.calibrate(library)))
    assert {r.stat for r, _ in checks.limits()} <= set(calibration["measurements"])
    y, _ = with_defect(loop(40), "click", seed=5)
    assert "click" in kinds(checks.run_checks(as_file(tmp_path, "k", y), calibration))


def test_empty_calibration_falls_back_to_defaults(tmp_path) -> None:
    assert checks.calibrate([as_file(tmp_path, "s", np.zeros(4800, np.float32))])["n"] == 0
    y, _ = with_defect(loop(41), "dc_offset")
    native = as_file(tmp_path, "dc", y)
    assert checks.run_checks(native, {"measurements": {}}) == checks.run_checks(native)
    assert "built-in limits" in checks.DEFAULTS_NOTICE


def test_with_a_known_tempo_a_loop_short_of_whole_beats_is_truncated(tmp_path) -> None:
    lp = loop(11, bpm=120, bars=2)  # exactly 4.00 s
    whole = as_file(tmp_path, "bass_120bpm", lp.samples)
    assert checks.run_checks(whole) == []  # tempo read from the name: 8 whole beats
    short = lp.samples[: int(3.7 * 48_000)]
    f = _one(checks.run_checks(as_file(tmp_path, "bass_120bpm_cut", short)), "truncation")
    assert "0.30 s short of 8 beats" in f.message
    assert "120 BPM" in f.message
    unnamed = as_file(tmp_path, "bass_cut", short)
    assert "truncation" in kinds(checks.run_checks(unnamed, tempo_bpm=120))
    assert checks.measure(unnamed)["beat_misfit_ms"] == 0.0  # no tempo known: nothing to measure against


def test_level_reports_too_quiet_and_too_hot_takes(tmp_path) -> None:
    y = loop(12, instrument="bass", style="finger").samples
    y = y / np.abs(y).max()
    quiet = _one(checks.run_checks(as_file(tmp_path, "quiet", y * 10 ** (-48 / 20))), "level")
    assert "very quiet" in quiet.message
    assert "LUFS" in quiet.message
    hot = _one(checks.run_checks(as_file(tmp_path, "hot", 0.99 * np.tanh(6 * y))), "level")
    assert "no headroom" in hot.message or "very loud" in hot.message
    assert checks.run_checks(as_file(tmp_path, "fine", y * 10 ** (-6 / 20))) == []
