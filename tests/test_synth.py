"""The synthetic loop generator: musical shape, determinism, and that every injected defect is really there."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from loopbridge import synth

SR = 48_000


def _loop(seed: int = 3, **kw) -> synth.Loop:
    return synth.make_loop(seed, bpm=120, bars=2, **kw)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sr", [44_100, 48_000])
def test_loop_has_musical_length_and_layout(channels: int, sr: int) -> None:
    loop = synth.make_loop(7, bpm=100, bars=3, sr=sr, channels=channels)
    expected = round(3 * 4 * 60 / 100 * sr)
    assert loop.samples.shape == ((expected,) if channels == 1 else (expected, 2))
    assert loop.samples.dtype == np.float32
    assert np.isfinite(loop.samples).all()
    assert 0.05 < np.max(np.abs(loop.samples)) < 1.0
    assert loop.notes
    assert all(0 <= n.start_s < loop.duration_s for n in loop.notes)


def test_same_seed_same_loop_different_seed_different_loop() -> None:
    a, b, c = synth.make_loop(11), synth.make_loop(11), synth.make_loop(12)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.samples.shape != c.samples.shape or not np.array_equal(a.samples, c.samples)
    ya, da = synth.inject(a.samples, SR, "click", np.random.default_rng(5))
    yb, db = synth.inject(a.samples, SR, "click", np.random.default_rng(5))
    np.testing.assert_array_equal(ya, yb)
    assert da == db


def test_random_options_cover_the_brief() -> None:
    loops = [synth.make_loop(s) for s in range(60)]
    assert {lp.instrument for lp in loops} == {"bass", "guitar"}
    assert {lp.style for lp in loops} == {s for styles in synth.INSTRUMENTS.values() for s in styles}
    assert {lp.bars for lp in loops} == {1, 2, 3, 4}
    assert all(70 <= lp.bpm <= 170 for lp in loops)


def test_plucked_string_has_the_requested_pitch() -> None:
    y = synth.pluck(110.0, SR, SR, np.random.default_rng(0), brightness=0.3, decay_s=3.0)
    seg = y[: SR // 4]
    ac = np.correlate(seg, seg[: SR // 8], mode="valid")  # lags 0 .. SR/8
    lo, hi = SR // 400, SR // 40
    period = lo + int(np.argmax(ac[lo:hi]))
    assert abs(SR / period - 110.0) < 1.5


def test_rest_at_start_is_silent_and_wrapped_tail_is_not() -> None:
    rest = synth.make_loop(4, rest_start=True, wrap_tail=False, noise_floor_db=None, bpm=120, bars=2)
    assert rest.notes[0].start_s >= 0.25
    assert np.max(np.abs(rest.samples[: int(0.2 * SR)])) == 0.0
    wrapped = synth.make_loop(4, rest_start=True, wrap_tail=True, noise_floor_db=None, bpm=120, bars=2)
    assert np.max(np.abs(wrapped.samples[: int(0.01 * SR)])) > 1e-4  # the last note rings into the start


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        synth.inject(_loop().samples, SR, "wobble", np.random.default_rng(0))
    with pytest.raises(ValueError, match="no style"):
        synth.make_loop(0, instrument="bass", style="distorted")


def _inject(kind: str, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray, synth.Defect]:
    loop = _loop(channels=channels)
    y, d = synth.inject(loop.samples, SR, kind, np.random.default_rng(seed))
    assert np.isfinite(y).all()
    assert y.dtype == np.float32
    assert d.kind == kind
    return loop.samples, y, d


def _span(d: synth.Defect) -> slice:
    return slice(round(d.start_s * SR), round((d.start_s + d.duration_s) * SR))


@pytest.mark.parametrize("kind", synth.DEFECT_KINDS)
@pytest.mark.parametrize("channels", [1, 2])
def test_every_defect_changes_the_audio_and_keeps_it_valid(kind: str, channels: int) -> None:
    x, y, d = _inject(kind, channels)
    assert np.max(np.abs(y)) <= 1.0
    assert d.start_s >= 0
    assert d.duration_s > 0
    if kind == "truncation":
        assert y.shape[0] < x.shape[0]
        return
    assert y.shape[0] == x.shape[0]
    assert not np.allclose(x if x.ndim == y.ndim else x[:, None], y)


@pytest.mark.parametrize("seed", range(4))
def test_click_is_a_spike_of_a_few_samples(seed: int) -> None:
    x, y, d = _inject("click", seed=seed)
    changed = np.flatnonzero(y != x)
    assert 1 <= changed.size <= 3
    assert changed[0] == round(d.start_s * SR)
    assert np.max(np.abs(y - x)) >= 0.25


@pytest.mark.parametrize("seed", range(4))
def test_clipping_produces_flat_runs_at_the_ceiling(seed: int) -> None:
    _, y, _d = _inject("clipping", seed=seed)
    a = np.abs(y)
    at_ceiling = a >= a.max() - 1e-6
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], at_ceiling.astype(int), [0]]))))[::2]
    assert runs.max() >= 3
    assert at_ceiling.sum() >= 20


@pytest.mark.parametrize("seed", range(4))
def test_dropout_is_digital_silence_inside_the_playing(seed: int) -> None:
    x, y, d = _inject("dropout", seed=seed)
    s = _span(d)
    assert np.all(y[s] == 0.0)
    assert np.sqrt(np.mean(x[s].astype(np.float64) ** 2)) > 1e-3  # something was playing there


def test_noise_burst_adds_broadband_energy_only_in_its_span() -> None:
    x, y, d = _inject("noise_burst")
    s = _span(d)
    diff = (y - x).astype(np.float64)
    assert np.sqrt(np.mean(diff[s] ** 2)) > 1e-3
    outside = np.ones(x.shape[0], bool)
    outside[s] = False
    assert np.max(np.abs(diff[outside])) < 1e-6


@pytest.mark.parametrize("kind", ["timing_slip", "wrong_note"])
def test_musical_defects_stay_local(kind: str) -> None:
    x, y, d = _inject(kind)
    s = _span(d)
    changed = np.flatnonzero(np.abs(y - x) > 1e-6)
    assert changed.size > 0.01 * SR
    assert changed.min() >= s.start
    assert changed.max() < s.stop


def test_wrong_note_moves_the_pitch() -> None:
    loop = synth.make_loop(0, instrument="bass", style="finger", bpm=80, bars=1, noise_floor_db=None)
    y, d = synth.inject(loop.samples, SR, "wrong_note", np.random.default_rng(1))
    s = _span(d)

    def peak_hz(v: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(v * np.hanning(v.size), 8 * v.size))
        return float(np.fft.rfftfreq(8 * v.size, 1 / SR)[np.argmax(spec)])

    ratio = peak_hz(y[s]) / peak_hz(loop.samples[s])
    assert abs(12 * np.log2(ratio)) > 0.7


def test_dc_offset_moves_the_mean() -> None:
    x, y, _ = _inject("dc_offset")
    assert abs(float(np.mean(y)) - float(np.mean(x))) > 0.02


@pytest.mark.parametrize("channels", [1, 2])
def test_polarity_gives_anticorrelated_channels(channels: int) -> None:
    _, y, _ = _inject("polarity", channels)
    assert y.ndim == 2
    assert y.shape[1] == 2
    assert np.corrcoef(y[:, 0], y[:, 1])[0, 1] < -0.5


def test_truncation_stops_abruptly_while_playing() -> None:
    x, y, d = _inject("truncation")
    assert y.shape[0] < x.shape[0]
    assert abs(y.shape[0] / SR - d.start_s) < 1e-3
    tail = y[-int(0.01 * SR) :].astype(np.float64)
    assert np.sqrt(np.mean(tail**2)) > 0.1 * np.sqrt(np.mean(x.astype(np.float64) ** 2))


def test_hum_is_at_mains_frequency() -> None:
    x, y, _ = _inject("hum")
    diff = (y - x).astype(np.float64)
    f = np.fft.rfftfreq(diff.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(diff)))]
    assert min(abs(f - 50), abs(f - 60)) < 1.0


def test_hiss_raises_the_noise_floor() -> None:
    x, y, _ = _inject("hiss")
    diff = (y - x).astype(np.float64)
    assert 10 * np.log10(np.mean(diff**2)) > -60


def test_level_defect_is_far_too_quiet_or_squashed() -> None:
    peaks = []
    for seed in range(6):
        _x, y, _ = _inject("level", seed=seed)
        peaks.append(20 * np.log10(np.max(np.abs(y))))
    assert min(peaks) < -40
    assert max(peaks) > -0.2


def test_write_library_writes_files_and_labels(tmp_path) -> None:
    labels = synth.write_library(
        tmp_path / "lib", n_clean=3, n_per_defect=1, seed=2, kinds=("click", "polarity"), bars=1, subtype="PCM_16"
    )
    rows = list(csv.DictReader(labels.open()))
    assert [r["label"] for r in rows] == ["0", "0", "0", "click", "polarity"]
    for r in rows:
        info = sf.info(str(tmp_path / "lib" / r["file"]))
        assert info.samplerate == SR
        assert info.subtype == "PCM_16"
        assert info.channels == (2 if r["label"] == "polarity" else 1)
    details = list(csv.DictReader((tmp_path / "lib" / "details.csv").open()))
    assert float(details[3]["duration_s"]) > 0
    again = synth.write_library(
        tmp_path / "lib2", n_clean=3, n_per_defect=1, seed=2, kinds=("click", "polarity"), bars=1, subtype="PCM_16"
    )
    assert (tmp_path / "lib" / "click_000.wav").read_bytes() == (again.parent / "click_000.wav").read_bytes()


# ---- parts played several times -----------------------------------------------------------------


def _onsets(loop: synth.Loop) -> np.ndarray:
    return np.array(sorted({round(n.start_s, 6) for n in loop.notes}))


@pytest.mark.parametrize(("instrument", "style"), [("bass", "finger"), ("guitar", "clean"), ("guitar", "distorted")])
def test_a_part_played_twice_has_the_same_notes_and_fresh_timing(instrument: str, style: str) -> None:
    part = synth.make_part(1, instrument=instrument, style=style, bpm=100, bars=2, swing=0.0)
    a, _ = synth.play_part(part, 1)
    b, _ = synth.play_part(part, 2)
    assert a.samples.shape == b.samples.shape == (round(2 * 4 * 0.6 * SR),)
    assert sorted(n.midi for n in a.notes) == sorted(n.midi for n in b.notes)
    da = np.array([n.start_s for n in sorted(a.notes, key=lambda n: (n.start_s, n.midi))])
    db_ = np.array([n.start_s for n in sorted(b.notes, key=lambda n: (n.start_s, n.midi))])
    assert 0.001 < np.std(da - db_) < 0.02
    assert all(n.midi % 12 in part.pitch_classes for n in a.notes)
    if instrument == "guitar":  # chords: several strings per attack, strummed a few ms apart
        assert len(a.notes) >= 2 * len(part.notes)


def test_swing_puts_the_off_beats_late() -> None:
    straight = synth.make_part(3, instrument="bass", style="finger", bpm=120, bars=2, swing=0.0)
    swung = synth.Part(**{**straight.__dict__, "swing": 1.0})
    step = 60 / 120 / 4
    for part, late in ((straight, 0.0), (swung, step / 3)):
        loop, _ = synth.play_part(part, 0, timing_sd_s=0.0)
        off = [n.start_s - round(n.start_s / step) * step for n in loop.notes]
        odd = [o for n, o in zip(loop.notes, off, strict=True) if round(n.start_s / step) % 2]
        assert odd
        assert np.allclose(odd, late, atol=1e-6) or np.allclose(
            [n.start_s % step for n in loop.notes if round((n.start_s - late) / step) % 2], late, atol=1e-6
        )


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_a_timing_slip_moves_notes_by_its_strength(strength: float) -> None:
    part = synth.make_part(4, instrument="bass", style="slap", bpm=100, bars=2, swing=0.0)
    clean, _ = synth.play_part(part, 7, timing_sd_s=0.0)
    slipped, d = synth.play_part(part, 7, defect="timing_slip", strength=strength, timing_sd_s=0.0)
    moved = np.abs(_onsets(slipped) - _onsets(clean))
    assert 1 <= np.count_nonzero(moved > 1e-6) <= 3
    assert moved.max() == pytest.approx(0.03 + 0.09 * strength, abs=1e-6)
    assert d is not None
    assert d.kind == "timing_slip"


@pytest.mark.parametrize("seed", range(4))
def test_a_wrong_note_is_a_semitone_out_of_the_key(seed: int) -> None:
    part = synth.make_part(seed, instrument="guitar", style="clean", bars=2)
    loop, d = synth.play_part(part, seed, defect="wrong_note")
    outside = [n for n in loop.notes if n.midi % 12 not in part.pitch_classes]
    assert outside
    assert all(abs(n.start_s - d.start_s) < 0.05 for n in outside)


def _treble_noise(y: np.ndarray, a: int, b: int) -> float:
    seg = y[a:b].astype(np.float64)
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2
    f = np.fft.rfftfreq(seg.size, 1 / SR)
    return float(np.exp(np.mean(np.log(spec[(f > 2500) & (f < 9000)] + 1e-20))))


def test_buzz_adds_treble_noise_after_one_attack_growing_with_strength() -> None:
    part = synth.make_part(2, instrument="bass", style="finger", bpm=100, bars=2)
    clean, _ = synth.play_part(part, 3)
    levels = []
    for strength in (0.2, 0.6, 1.0):
        buzzing, d = synth.play_part(part, 3, defect="buzz", strength=strength)
        assert d is not None
        assert d.kind == "buzz"
        assert 0.08 <= d.duration_s <= 0.7
        a = int((d.start_s + 0.02) * SR)
        b = a + int(0.06 * SR)
        levels.append(_treble_noise(buzzing.samples, a, b) / _treble_noise(clean.samples, a, b))
    assert levels[0] > 3.0
    assert levels[0] < levels[1] < levels[2]


def test_a_part_plays_in_stereo_and_refuses_unknown_defects() -> None:
    part = synth.make_part(0, bars=1)
    loop, _ = synth.play_part(part, 0, channels=2)
    assert loop.samples.ndim == 2
    assert loop.samples.shape[1] == 2
    with pytest.raises(ValueError, match="unknown part defect"):
        synth.play_part(part, 0, defect="wobble")
