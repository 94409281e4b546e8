"""The LAION-CLAP front-end as pure numpy functions: 64-bin log-mel and the feature-fusion views.

Matches laion-clap's `get_audio_features(..., data_truncating="fusion", data_filling="repeatpad")`
except that the three local chunks of a long clip sit at fixed positions (first, middle, last)
instead of random ones, so the same file always gives the same embedding.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import scipy.fft

from .limits import SAMPLE_RATE

N_FFT = 1024
HOP = 480
N_MELS = 64
FMIN = 50.0
FMAX = 14_000.0
CLIP_SAMPLES = 10 * SAMPLE_RATE
CHUNK_FRAMES = CLIP_SAMPLES // HOP + 1  # 1001 frames = one 10 s view
AMIN = 1e-10


class FusionInput(NamedTuple):
    """One clip's encoder input: four 10 s mel views and whether the clip was long."""

    mel_fusion: np.ndarray  # (4, CHUNK_FRAMES, N_MELS) float32
    longer: bool
    valid_frames: int  # frames of view 0 that hold audio rather than end padding


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """(N_FFT//2+1, N_MELS): HTK mel scale, no area normalisation — as torchaudio's MelSpectrogram(norm=None).

    Triangles between N_MELS + 2 points evenly spaced in mel, each 1 at its centre and 0 at its neighbours (the
    weights librosa.filters.mel(htk=True, norm=None) gives, to the bit; tests compare). Written here because
    importing librosa for it cost a one-file `score` about 2 s of CPU."""
    lo, hi = 2595.0 * np.log10(1.0 + np.array([FMIN, FMAX]) / 700.0)  # HTK mel of the band edges
    hz = 700.0 * (10.0 ** (np.linspace(lo, hi, N_MELS + 2) / 2595.0) - 1.0)
    ramps = hz[:, None] - np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)[None, :]
    width = np.diff(hz)
    rising, falling = -ramps[:-2] / width[:-1, None], ramps[2:] / width[1:, None]
    fb = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    return np.ascontiguousarray(fb.T)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    # torch.hann_window is periodic by default
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) power mel in dB, centred frames with reflect padding, frames = 1 + len(y) // HOP."""
    y = np.asarray(y, dtype=np.float32)
    pad = N_FFT // 2
    # reflect needs more samples than the pad
    padded = np.pad(y, pad, mode="reflect") if y.size > pad else np.pad(y, pad)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    spec = scipy.fft.rfft(frames * _window(), axis=1, workers=-1)
    power = spec.real**2 + spec.imag**2
    mel = power.astype(np.float32, copy=False) @ mel_filterbank()
    return 10.0 * np.log10(np.maximum(mel, AMIN))


def repeat_pad(y: np.ndarray, length: int = CLIP_SAMPLES) -> np.ndarray:
    """laion-clap's `repeatpad`: tile the clip a whole number of times, then zero-pad to `length`."""
    n_repeat = length // len(y)
    tiled = np.tile(y, n_repeat)
    return np.pad(tiled, (0, length - len(tiled)))


def chunk_starts(total_frames: int, chunk: int = CHUNK_FRAMES) -> tuple[int, int, int]:
    """First, middle and last possible start of a `chunk`-frame window: one from each third."""
    last = total_frames - chunk
    return 0, last // 2, last


def shrink(mel: np.ndarray, frames: int = CHUNK_FRAMES) -> np.ndarray:
    """Squeeze a long mel to `frames` in time like torchvision's Resize (bilinear, antialiased)."""
    return (_aa_bilinear_weights(mel.shape[0], frames) @ mel).astype(np.float32)


@lru_cache(maxsize=16)
def _aa_bilinear_weights(in_size: int, out_size: int) -> np.ndarray:
    # PIL-style separable triangle filter widened by the scale factor, as torch's antialiased bilinear.
    scale = in_size / out_size
    support = scale if scale >= 1.0 else 1.0
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    w = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        x = (np.arange(lo, hi) - center + 0.5) * inv
        row = np.clip(1.0 - np.abs(x), 0.0, None)
        w[i, lo:hi] = row / row.sum()
    return w.astype(np.float32)


def fusion_input(y: np.ndarray) -> FusionInput:
    """Encoder input for a 48 kHz mono clip of any length."""
    y = np.asarray(y, dtype=np.float32)
    if len(y) > CLIP_SAMPLES:
        mel = log_mel(y)
        if mel.shape[0] == CHUNK_FRAMES:  # a hair over 10 s still fits one view: laion-clap calls it short
            return FusionInput(np.stack([mel] * 4), False, CHUNK_FRAMES)
        starts = chunk_starts(mel.shape[0])
        views = [shrink(mel)] + [mel[s : s + CHUNK_FRAMES] for s in starts]
        return FusionInput(np.stack(views), True, CHUNK_FRAMES)
    padded = repeat_pad(y) if len(y) < CLIP_SAMPLES else y
    mel = log_mel(padded)
    content = (CLIP_SAMPLES // len(y)) * len(y)
    return FusionInput(np.stack([mel] * 4), False, min(CHUNK_FRAMES, 1 + content // HOP))


def waveform_view(y: np.ndarray) -> np.ndarray:
    """10 s of waveform for encoders that compute their own mel (laion-clap without fusion): repeat-padded when
    short; the first 10 s when long, where laion-clap would crop at random."""
    y = np.asarray(y, dtype=np.float32)
    return repeat_pad(y) if len(y) < CLIP_SAMPLES else y[:CLIP_SAMPLES]


FUSION_INPUTS = ("mel_fusion", "longer", "valid_frames")


def fusion_arrays(fi: FusionInput) -> dict[str, np.ndarray]:
    """One clip's fusion input under the graph input names (see FUSION_INPUTS)."""
    return {
        "mel_fusion": fi.mel_fusion,
        "longer": np.asarray(fi.longer, dtype=bool),
        "valid_frames": np.asarray(fi.valid_frames, dtype=np.int64),
    }


def batch(inputs: list[FusionInput]) -> dict[str, np.ndarray]:
    """Stack clips into the named arrays every loopbridge encoder graph takes (it reads the ones it declares)."""
    arrays = [fusion_arrays(i) for i in inputs]
    return {k: np.stack([a[k] for a in arrays]) for k in FUSION_INPUTS}
