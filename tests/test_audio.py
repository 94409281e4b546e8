"""Audio loading: every format and layout a DAW writes comes out as 48 kHz mono float32, or a clear error."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_audio

from loopbridge import audio
from loopbridge.errors import AudioError


def _peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)])


@pytest.mark.parametrize(
    ("name", "sr", "channels", "subtype"),
    [
        ("a.wav", 44_100, 2, "PCM_16"),
        ("b.wav", 96_000, 1, "PCM_24"),
        ("c.wav", 48_000, 2, "FLOAT"),
        ("d.aiff", 22_050, 1, "PCM_16"),
        ("e.flac", 88_200, 2, "PCM_24"),
        ("f.ogg", 44_100, 2, "VORBIS"),
        ("g.mp3", 44_100, 1, "MPEG_LAYER_III"),
        ("h.wav", 32_000, 6, "PCM_32"),
    ],
)
def test_any_format_becomes_48k_mono(tmp_path: Path, name: str, sr: int, channels: int, subtype: str) -> None:
    t = np.arange(int(1.5 * sr)) / sr
    mono = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    y = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono
    path = write_audio(tmp_path / name, y, sr, subtype)
    clip = audio.load(path)
    assert clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1
    assert abs(len(clip.samples) - 1.5 * 48_000) < 0.02 * 48_000  # mp3 adds encoder padding
    assert abs(_peak_hz(clip.samples, 48_000) - 1000.0) < 5.0
    assert 0.3 < np.max(np.abs(clip.samples)) < 0.7
    assert clip.native.sample_rate == sr
    assert clip.native.channels == channels
    assert not clip.is_silent


def test_stereo_mixdown_averages_channels(tmp_path: Path) -> None:
    y = np.stack([np.full(4800, 0.5), np.full(4800, -0.1)], axis=1)
    clip = audio.load(write_audio(tmp_path / "s.wav", y, 48_000, "FLOAT"))
    assert np.allclose(clip.samples, 0.2, atol=1e-6)


def test_silence_is_reported_not_refused(tmp_path: Path) -> None:
    clip = audio.load(write_audio(tmp_path / "quiet.wav", np.zeros(48_000), 48_000))
    assert clip.is_silent
    assert clip.duration_s == pytest.approx(1.0)


def _zero_frames(p: Path) -> Path:
    sf.write(str(p), np.zeros((0, 1)), 48_000)
    return p


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda d: d / "nope.wav", "missing", "not found"),
        (lambda d: d, "is_directory", "folder"),
        (lambda d: (d / "x.wav").write_bytes(b"") or d / "x.wav", "empty", "empty"),
        (lambda d: _zero_frames(d / "z.wav"), "empty", "zero length"),
        (lambda d: (d / "t.wav").write_text("not audio at all") and d / "t.wav", "not_audio", "not a readable audio"),
        (lambda d: write_audio(d / "n.wav", np.array([0.1, np.nan, 0.2] * 100), 48_000, "FLOAT"), "non_finite", "NaN"),
    ],
)
def test_bad_files_give_typed_errors_naming_the_file(tmp_path: Path, make, code: str, words: str) -> None:
    path = make(tmp_path)
    with pytest.raises(AudioError) as err:
        audio.load(path)
    assert err.value.code == code
    assert str(path) in err.value.message
    assert words in err.value.message


def test_too_long_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.wav", tone(3.0), 48_000)
    with pytest.raises(AudioError) as err:
        audio.load(path, max_seconds=2.0)
    assert err.value.code == "too_long"
    assert "3.0 s" in err.value.message
    assert audio.load(path, max_seconds=5.0).duration_s == pytest.approx(3.0)


def test_expand_paths_keeps_files_and_walks_folders(tmp_path: Path) -> None:
    write_audio(tmp_path / "lib" / "b.wav", tone(0.1), 48_000)
    write_audio(tmp_path / "lib" / "sub" / "a.flac", tone(0.1), 48_000)
    (tmp_path / "lib" / "notes.txt").write_text("x")
    single = tmp_path / "given.txt"
    found = audio.expand_paths([tmp_path / "lib", single])
    assert found == [tmp_path / "lib" / "b.wav", tmp_path / "lib" / "sub" / "a.flac", single]


def _marked(sr: int, seconds: float, click_at: float) -> np.ndarray:
    """A quiet tone with one full-scale sample at `click_at` s: where it lands shows which part was decoded."""
    y = 0.1 * np.sin(2 * np.pi * 220.0 * np.arange(int(seconds * sr)) / sr)
    y[int(click_at * sr)] = 1.0
    return np.stack([y, y], axis=1)


@pytest.mark.parametrize("sr", [48_000, 44_100])
def test_a_region_decodes_only_that_part_with_times_from_its_start(tmp_path: Path, sr: int) -> None:
    path = write_audio(tmp_path / "loop passes.wav", _marked(sr, 6.0, click_at=4.5), sr, "FLOAT")
    clip = audio.load(path, region=(4.0, 5.0))
    assert clip.region == (pytest.approx(4.0), pytest.approx(5.0))
    assert clip.native.samples.shape == (sr, 2)
    assert clip.duration_s == pytest.approx(1.0)
    assert np.argmax(clip.native.samples[:, 0]) / sr == pytest.approx(0.5, abs=1e-4)  # 4.5 s in the file
    assert len(clip.samples) == pytest.approx(48_000, abs=2)  # resampled after cutting
    assert audio.load(path, region=(5.0, None)).duration_s == pytest.approx(1.0)
    assert audio.load(path).region is None


def test_max_seconds_applies_to_the_region(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.wav", tone(3.0), 48_000)
    assert audio.load(path, max_seconds=2.0, region=(0.5, 2.0)).duration_s == pytest.approx(1.5)
    with pytest.raises(AudioError, match=r"the region is 2\.5 s"):
        audio.load(path, max_seconds=2.0, region=(0.5, None))


@pytest.mark.parametrize(
    ("region", "words"),
    [
        ((2.0, 1.0), "before it starts"),
        ((3.0, None), "outside the file"),
        ((9.0, 10.0), "outside"),
        ((1.0, 4.0), "after the file's end"),
    ],
)
def test_a_region_outside_the_file_is_a_bad_region(tmp_path: Path, region, words: str) -> None:
    path = write_audio(tmp_path / "t.wav", tone(3.0), 48_000)
    with pytest.raises(AudioError) as err:
        audio.load(path, region=region)
    assert err.value.code == "bad_region"
    assert words in err.value.message
    assert audio.load(path, region=(1.0, 3.04)).duration_s == pytest.approx(2.0)  # marker rounding is the end


def test_special_files_are_refused_at_once_without_opening(tmp_path: Path) -> None:
    import os
    import time

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    for path, words in [
        (fifo, "named pipe"),
        (Path("/dev/zero"), "character device"),
        (Path("/dev/urandom"), "character device"),
    ]:
        t0 = time.monotonic()
        with pytest.raises(AudioError) as err:
            audio.load(path)  # opening the FIFO for reading would block until a writer comes
        assert time.monotonic() - t0 < 1.0
        assert err.value.code == "not_a_file"
        assert str(path) in err.value.message
        assert words in err.value.message


def test_a_trailing_slash_on_a_file_is_not_the_file(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "take.wav", tone(0.5), 48_000)
    with pytest.raises(AudioError) as err:
        audio.load(str(path) + "/")
    assert err.value.code == "missing"
