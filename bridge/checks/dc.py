"""DC offset: the waveform sits off centre, which eats headroom and makes every edit point click."""

from __future__ import annotations

import numpy as np

from .rules import Rule
from .take import Take, Where, db


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    covered = take.block_sums.shape[1] * take.env_hop
    sums = take.block_sums.sum(axis=1, dtype=np.float64) + take.x[:, covered:].sum(axis=1, dtype=np.float64)
    means = sums / max(take.frames, 1)
    c = int(np.argmax(np.abs(means)))
    side = _channel_name(c, take.channels)
    return {"dc_offset_db": float(db(means[c]))}, {
        "dc_offset_db": Where(0.0, take.native.duration_s, f"{means[c]:+.3f}{side}")
    }


def _channel_name(c: int, channels: int) -> str:
    if channels == 1:
        return ""
    return (
        {0: " on the left channel", 1: " on the right channel"}.get(c, f" on channel {c + 1}")
        if channels == 2
        else f" on channel {c + 1}"
    )


RULES = (
    Rule(
        "dc_offset_db",
        "dc_offset",
        default=-40.0,
        worse="high",
        margin=3.0,
        scale=8.0,
        tightest=-47.0,  # a clean library catches -46 dBFS; converters and asymmetric distortion stay below -47
        describe=lambda v, w: (
            f"DC offset of {w.note} ({v:.0f} dBFS): the waveform sits off centre; use a high-pass or DC removal"
        ),
    ),
)
