"""`fit`'s musical calibration on rendered libraries: a swung library's groove is learned and a swung take is not
late; a distorted library does not flag its own noise as buzz; the bundle carries it and `check --model` uses it."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from loopbridge import synth
from loopbridge.audio import read_native
from loopbridge.checks import check_take
from loopbridge.context import TakeContext
from loopbridge.export import music_calibration
from loopbridge.music import buzz


def _library(folder, instrument: str, style: str, swing: float, n: int = 10) -> list[str]:
    folder.mkdir()
    files = []
    for k in range(n):
        part = synth.make_part(100 + k, instrument=instrument, style=style, bpm=100, bars=2, swing=swing, scale="minor")
        loop, _ = synth.play_part(part, k)
        files.append(str(folder / f"{instrument}_100bpm_{synth.KEY_NAMES[part.root].replace('#', 'sharp')}m_{k}.wav"))
        sf.write(files[-1], loop.samples, loop.sample_rate)
    return files


def test_a_swung_library_teaches_its_groove(tmp_path) -> None:
    files = _library(tmp_path / "swung", "bass", "slap", swing=1.0)
    cal = music_calibration.calibrate(files, progress=False)
    assert cal is not None
    assert cal["n"] == len(files)
    step = 60 / 100 / 4
    groove = cal["groove"]
    # off-beat sixteenths sit a third of a sixteenth late; the beats on the grid
    assert abs(groove["offset_s"][1] - step / 3) < 0.012
    assert abs(groove["offset_s"][3] - step / 3) < 0.012
    assert abs(groove["offset_s"][0]) < 0.01
    assert 0.02 <= groove["floor_s"] <= 0.06
    profile = np.array(cal["degree_profiles"]["minor"])
    minor = [0, 2, 3, 5, 7, 8, 10]
    assert profile[minor].sum() > 0.9  # named minor keys: their notes are the scale's


def test_a_library_records_how_many_of_its_loops_swing(tmp_path) -> None:
    straight = _library(tmp_path / "straight", "bass", "finger", swing=0.0, n=12)
    swung = _library(tmp_path / "swung", "bass", "slap", swing=1.0, n=12)

    def share(files: list[str]) -> float | None:
        cal = music_calibration.calibrate(files, progress=False)
        assert cal is not None
        return cal["groove"]["swung_share"]

    assert share(straight) == 0.0
    assert share(swung) == 1.0
    assert 0.15 <= share(straight[:6] + swung[:6]) <= 0.85


def test_calibration_reaches_the_checks_through_the_bundle_layout(tmp_path) -> None:
    files = _library(tmp_path / "dist", "guitar", "distorted", swing=0.0)
    cal = music_calibration.with_music({"version": 1, "n": 0, "measurements": {}}, files, progress=False)
    music = cal["music"]
    assert buzz.DEFAULT_LIMIT_DB <= music["buzz_limit_db"] <= 40.0  # a library may raise it, not lower it
    part = synth.make_part(100, instrument="guitar", style="distorted", bpm=100, bars=2, swing=0.0, scale="minor")
    loop, _ = synth.play_part(part, 77)
    path = tmp_path / "new.wav"
    sf.write(path, loop.samples, loop.sample_rate)
    report = check_take(read_native(path), cal, context=TakeContext(bpm=100, key=part.key, source="cli"))
    assert report.music is not None
    assert "buzz" not in [f.kind for f in report.findings]


def test_the_musical_limits_take_their_share_of_the_false_flag_budget(tmp_path) -> None:
    """A tighter budget can only raise the limits: the library's own loops are then flagged less."""
    files = _library(tmp_path / "lib", "bass", "finger", swing=0.0)
    loose = music_calibration.calibrate(files, progress=False, false_flags=0.2)
    tight = music_calibration.calibrate(files, progress=False, false_flags=0.01)
    assert loose is not None
    assert tight is not None
    assert loose["false_flags"] == 0.1
    assert tight["false_flags"] == 0.005
    assert tight["groove"]["floor_s"] >= loose["groove"]["floor_s"]
    assert tight["buzz_limit_db"] >= loose["buzz_limit_db"]


def test_a_large_library_is_calibrated_on_a_reproducible_sample(tmp_path, monkeypatch) -> None:
    """Past MAX_LOOPS the loops are sampled (fit stays fast); the same seed draws the same loops."""
    files = _library(tmp_path / "big", "bass", "finger", swing=0.0, n=12)
    monkeypatch.setattr(music_calibration, "MAX_LOOPS", 9)
    first = music_calibration.with_music(None, files, progress=False, seed=3)
    again = music_calibration.with_music(None, files, progress=False, seed=3)
    assert first is not None
    assert first["music"]["n"] <= 9
    assert first == again


def test_one_loop_with_an_odd_note_does_not_set_the_buzz_limit() -> None:
    """The limit is the library's worst note per loop at a high quantile, capped a few robust spreads above their
    median: over a few dozen loops that quantile is the one worst loop."""
    rng = np.random.default_rng(0)
    usual = list(rng.normal(10.0, 3.0, 35))
    q = 1.0 - 0.05 * music_calibration.MUSIC_SHARE / 2
    assert music_calibration._buzz_limit([*usual, 27.7], q) == buzz.DEFAULT_LIMIT_DB
    noisy = list(rng.normal(30.0, 2.0, 36))  # a library noisy on every loop still raises it
    assert music_calibration._buzz_limit(noisy, q) > max(np.median(noisy), buzz.DEFAULT_LIMIT_DB)
    assert music_calibration._buzz_limit(usual[:5], q) == buzz.DEFAULT_LIMIT_DB  # too few loops
