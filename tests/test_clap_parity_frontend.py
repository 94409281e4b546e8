"""Our numpy front-end against laion-clap's own `get_audio_features` (fusion, repeatpad), chunk positions forced equal."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from loopbridge import features as F

torch = pytest.importorskip("torch")
from helpers_clap import laion_data_module  # noqa: E402 - needs torch, skipped above without it

from loopbridge.export.clap import model_config  # noqa: E402

# measured: ≤ 4e-4 dB for mel views, ≤ 1.3e-3 dB for the shrunk global view of a long clip (float32 both sides)
MAX_MEL_DB = 1e-3
MAX_SHRINK_DB = 3e-3


def laion_features(y: np.ndarray, starts: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch) -> dict:
    data = laion_data_module()
    picks: Iterator[int] = iter(starts)
    # laion-clap picks one chunk start per third with np.random.choice: make it pick ours
    monkeypatch.setattr(data.np.random, "choice", lambda candidates: next(picks))
    audio_cfg = model_config("clap-htsat-fused")["audio_cfg"]
    sample = data.get_audio_features(
        {}, torch.from_numpy(y), F.CLIP_SAMPLES, data_truncating="fusion", data_filling="repeatpad", audio_cfg=audio_cfg
    )
    return {"mel_fusion": sample["mel_fusion"].numpy(), "longer": bool(sample["longer"].item())}


@pytest.mark.parametrize("seconds", [1.0, 9.99, 10.0, 10.01, 25.0])
def test_fusion_input_matches_laion_clap(seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    y = (0.3 * np.random.default_rng(int(seconds * 100)).standard_normal(int(seconds * F.SAMPLE_RATE))).astype(
        np.float32
    )
    ours = F.fusion_input(y)
    total_frames = 1 + len(y) // F.HOP
    ref = laion_features(y, F.chunk_starts(total_frames), monkeypatch)

    assert ours.longer == ref["longer"]
    assert ours.mel_fusion.shape == ref["mel_fusion"].shape == (4, F.CHUNK_FRAMES, F.N_MELS)
    per_view = np.abs(ours.mel_fusion - ref["mel_fusion"]).reshape(4, -1).max(axis=1)
    print(f"{seconds:6.2f} s  longer={ours.longer}  max |Δ| dB per view: " + "  ".join(f"{d:.2e}" for d in per_view))
    assert per_view[1:].max() < MAX_MEL_DB
    assert per_view[0] < (MAX_SHRINK_DB if ours.longer else MAX_MEL_DB)
