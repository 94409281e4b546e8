"""A take's waveform as min/max peaks per time bucket: what the page draws, a few kB however long the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import audio

BUCKETS = 1200


def peaks(path: str | Path, buckets: int = BUCKETS) -> dict[str, Any]:
    """Bucket start times (s) with the min and max sample of the channels' mean in each bucket."""
    native = audio.read_native(path)
    mono = native.samples.mean(axis=1) if native.samples.ndim == 2 else native.samples
    n = max(1, min(buckets, mono.size))
    edges = np.linspace(0, mono.size, n + 1).astype(np.int64)
    lo = np.minimum.reduceat(mono, edges[:-1]) if mono.size else np.zeros(n)
    hi = np.maximum.reduceat(mono, edges[:-1]) if mono.size else np.zeros(n)
    return {
        "t": np.round(edges[:-1] / native.sample_rate, 5).tolist(),
        "min": np.round(lo, 4).tolist(),
        "max": np.round(hi, 4).tolist(),
        "duration_s": native.duration_s,
    }
