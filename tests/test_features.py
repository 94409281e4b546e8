"""The CLAP front-end's rules: repeat padding, fusion views, deterministic chunks. Parity with laion-clap's
own feature code is in test_clap_parity*.py."""

import numpy as np
import pytest

from loopbridge import features as F


def test_log_mel_shape_and_frame_count() -> None:
    y = np.random.default_rng(0).standard_normal(48_000).astype(np.float32)
    mel = F.log_mel(y)
    assert mel.shape == (1 + 48_000 // F.HOP, F.N_MELS)
    assert mel.dtype == np.float32
    assert np.isfinite(mel).all()


def test_log_mel_floor_is_minus_100_db_for_silence() -> None:
    assert np.allclose(F.log_mel(np.zeros(4800, np.float32)), -100.0)


def test_mel_filterbank_is_htk_unnormalised() -> None:
    fb = F.mel_filterbank()
    assert fb.shape == (F.N_FFT // 2 + 1, F.N_MELS)
    assert fb.max() == pytest.approx(1.0, abs=0.05)  # triangles peak near 1 without area normalisation
    freqs = np.linspace(0, F.SAMPLE_RATE / 2, F.N_FFT // 2 + 1)
    assert freqs[fb[:, 0] > 0].min() >= F.FMIN
    assert freqs[fb[:, -1] > 0].max() <= F.FMAX


def test_repeat_pad_tiles_whole_copies_then_zeros() -> None:
    y = np.arange(1, 301, dtype=np.float32)
    out = F.repeat_pad(y, 1000)
    assert np.array_equal(out[:900], np.tile(y, 3))
    assert not out[900:].any()


def test_short_clip_gives_four_identical_views() -> None:
    y = np.random.default_rng(1).standard_normal(3 * 48_000).astype(np.float32)
    fi = F.fusion_input(y)
    assert fi.mel_fusion.shape == (4, F.CHUNK_FRAMES, F.N_MELS)
    assert not fi.longer
    assert all(np.array_equal(fi.mel_fusion[0], v) for v in fi.mel_fusion[1:])
    assert fi.valid_frames == 1 + (3 * 3 * 48_000) // F.HOP  # three whole copies, then padding


def test_just_over_ten_seconds_within_one_view_counts_as_short() -> None:
    y = np.ones(F.CLIP_SAMPLES + 100, np.float32)
    fi = F.fusion_input(y)
    assert not fi.longer
    assert fi.valid_frames == F.CHUNK_FRAMES


def test_long_clip_views_are_global_plus_first_middle_last_chunks() -> None:
    y = np.random.default_rng(2).standard_normal(25 * 48_000).astype(np.float32)
    fi = F.fusion_input(y)
    mel = F.log_mel(y)
    front, middle, back = F.chunk_starts(mel.shape[0])
    assert fi.longer
    assert (front, back) == (0, mel.shape[0] - F.CHUNK_FRAMES)
    assert middle == (mel.shape[0] - F.CHUNK_FRAMES) // 2
    for view, start in zip(fi.mel_fusion[1:], (front, middle, back), strict=False):
        assert np.array_equal(view, mel[start : start + F.CHUNK_FRAMES])
    assert np.array_equal(F.fusion_input(y).mel_fusion, fi.mel_fusion)  # deterministic


def test_shrink_matches_torchvision_resize() -> None:
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    mel = F.log_mel(np.random.default_rng(3).standard_normal(17 * 48_000).astype(np.float32)).astype(np.float64)
    ref = tv.transforms.Resize(size=[F.CHUNK_FRAMES, F.N_MELS])(torch.from_numpy(mel)[None])[0].numpy()
    ours = F._aa_bilinear_weights(mel.shape[0], F.CHUNK_FRAMES).astype(np.float64) @ mel
    assert np.abs(ours - ref).max() < 1e-4


def test_batch_stacks_named_inputs() -> None:
    a = F.fusion_input(np.ones(48_000, np.float32))
    b = F.fusion_input(np.ones(12 * 48_000, np.float32))
    out = F.batch([a, b])
    assert out["mel_fusion"].shape == (2, 4, F.CHUNK_FRAMES, F.N_MELS)
    assert out["longer"].tolist() == [False, True]
    assert out["valid_frames"].dtype == np.int64
