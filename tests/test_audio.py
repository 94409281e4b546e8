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
    "name, sr, channels, subtype",
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
    "make, code, words",
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
