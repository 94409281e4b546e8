"""The weight-free mel-stats encoder: its ONNX graph computes what a plain numpy summary would."""

import numpy as np
import onnxruntime as ort

from loopbridge import features as F
from loopbridge import mel_stats


def _numpy_reference(view: np.ndarray, valid: int) -> np.ndarray:
    x = view[:valid] * mel_stats.DB_SCALE
    pct = [np.quantile(x, q, axis=0, method="lower") for q in mel_stats.QUANTILES]
    level = x.mean(axis=1)
    flux = np.maximum(x[1:] - x[:-1], 0).mean(axis=1)
    onset = (flux > flux.mean() + mel_stats.ONSET_SIGMAS * flux.std()).mean()
    power = 10 ** (2 * x)
    centroid = (power * (np.arange(F.N_MELS) / F.N_MELS)).sum(1) / (power.sum(1) + 1e-12)
    return np.concatenate(
        [
            x.mean(0),
            x.std(0),
            *pct,
            [level.mean(), level.std(), level.max(), level.max() - level.mean()],
            [flux.mean(), flux.std(), flux.max(), onset, centroid.mean(), centroid.std()],
        ]
    )


def test_graph_matches_numpy_and_masks_padding() -> None:
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.2 for n in (int(2.7 * 48_000), 14 * 48_000)]
    inputs = [F.fusion_input(y) for y in clips]
    session = ort.InferenceSession(mel_stats.build_model().SerializeToString(), providers=["CPUExecutionProvider"])
    feed = F.batch(inputs)
    out = session.run(None, {"mel_fusion": feed["mel_fusion"], "valid_frames": feed["valid_frames"]})[0]
    assert out.shape == (2, mel_stats.EMBEDDING_DIM)
    assert inputs[0].valid_frames < F.CHUNK_FRAMES  # the short clip really has a padded tail to mask
    for row, fi in zip(out, inputs, strict=False):
        ref = _numpy_reference(fi.mel_fusion[0].astype(np.float64), fi.valid_frames)
        assert np.allclose(row, ref, rtol=1e-3, atol=1e-3)


def test_repeat_padding_does_not_change_the_summary_much() -> None:
    """A 2 s loop and the same loop played 4 times describe the same music."""
    rng = np.random.default_rng(1)
    loop = (
        np.sin(np.linspace(0, 2000, 96_000)) * np.exp(-np.linspace(0, 8, 96_000)) + 0.01 * rng.standard_normal(96_000)
    ).astype(np.float32)
    session = ort.InferenceSession(mel_stats.build_model().SerializeToString(), providers=["CPUExecutionProvider"])
    feed = F.batch([F.fusion_input(loop), F.fusion_input(np.tile(loop, 4))])
    a, b = session.run(None, {"mel_fusion": feed["mel_fusion"], "valid_frames": feed["valid_frames"]})[0]
    other = session.run(
        None,
        {
            k: F.batch([F.fusion_input(rng.standard_normal(96_000).astype(np.float32))])[k]
            for k in ("mel_fusion", "valid_frames")
        },
    )[0][0]
    assert np.linalg.norm(a - b) < 0.2 * np.linalg.norm(a - other)
