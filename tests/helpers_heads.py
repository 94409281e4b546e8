"""Data and small settings for the heads, bundle and fit/score tests: tiny, so the files stay fast on 2 cores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import write_audio

DIM = 16


def normal_embeddings(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Embeddings of 'normal' loops: a low-rank cloud plus a little noise, away from the origin (like CLAP's)."""
    rng = np.random.default_rng(1234)  # the same subspace for every call: train and test share one distribution
    basis, centre = rng.standard_normal((3, dim)), rng.standard_normal(dim)
    noise = np.random.default_rng(seed)
    return (centre + noise.standard_normal((n, 3)) @ basis + 0.1 * noise.standard_normal((n, dim))).astype(np.float32)


def wide_embeddings(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Full-rank Gaussian rows in many dimensions: a small Deep SVDD memorises its training rows here, so
    in-sample scores are clearly lower than a new row's (the bias a threshold must not inherit)."""
    rng = np.random.default_rng(seed)
    return (1.0 + rng.standard_normal((n, dim)) * np.linspace(2.0, 0.2, dim)).astype(np.float32)


def gross_outliers(n: int, dim: int = DIM, seed: int = 99) -> np.ndarray:
    """A clearly different group: normal rows pushed off the subspace in random directions."""
    rng = np.random.default_rng(seed)
    return (normal_embeddings(n, dim, seed) + 5.0 * rng.standard_normal((n, dim))).astype(np.float32)


def tiny_svdd(seed: int = 0, epochs: int = 30, **kw):
    from loopbridge.export.heads import SVDDConfig

    return SVDDConfig(**{"hidden": (32, 16, 8), "epochs": epochs, "lr": 3e-3, "patience": 10, "seed": seed, **kw})


def tiny_fit_options(heads: tuple[str, ...] | None = None, **kw):
    from loopbridge.export.fit import HEADS, FitOptions

    params = {"iforest": {"n_estimators": 30}, **kw.pop("params", {})}
    return FitOptions(
        **{"heads": heads or HEADS, "svdd": tiny_svdd(epochs=30), "params": params, "progress": False, **kw}
    )


TINY_FIT_ARGS = ["--hidden", "32,16,8", "--epochs", "8", "--lr", "3e-3", "--iforest-trees", "30", "--no-progress"]


def write_loops(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """Short clean synth loops (one bar, fast tempo) as 48 kHz WAV."""
    from loopbridge.synth import make_loop

    return [write_audio(folder / f"loop_{i:02d}.wav", make_loop(seed + i, bars=1, bpm=160.0).samples) for i in range(n)]


def write_noise(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """A gross defect: loud white noise instead of a loop."""
    rng = np.random.default_rng(seed)
    return [
        write_audio(folder / f"noise_{i:02d}.wav", (0.5 * rng.standard_normal(72_000)).astype(np.float32))
        for i in range(n)
    ]
