"""Polarity and phase: channels that cancel when summed to mono (a flipped cable or mic)."""

from __future__ import annotations

import numpy as np

from .rules import Rule
from .take import Take, Where


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    """Correlation of the first two channels around their means; a mono take is in phase by definition."""
    if take.channels < 2:
        return {"lr_correlation": 1.0, "mono_sum_loss_db": 0.0}, {
            "lr_correlation": Where(),
            "mono_sum_loss_db": Where(),
        }
    left, right = take.x[0], take.x[1]
    n = left.size
    ml, mr = float(left.mean(dtype=np.float64)), float(right.mean(dtype=np.float64))
    sll = float(np.einsum("i,i->", left, left)) - n * ml * ml
    srr = float(np.einsum("i,i->", right, right)) - n * mr * mr
    slr = float(np.einsum("i,i->", left, right)) - n * ml * mr
    corr = float(slr / np.sqrt(sll * srr)) if sll > 0 and srr > 0 else 1.0
    # level of (L+R)/2 against the channels' average level: 0 dB in phase, -3 dB unrelated, far lower when they cancel
    ratio = max((sll + srr + 2 * slr) / 4, 0.0) / max((sll + srr) / 2, 1e-30)
    loss = float(max(10.0 * np.log10(max(ratio, 1e-10)), -100.0))
    whole = Where(0.0, take.native.duration_s)
    return {"lr_correlation": corr, "mono_sum_loss_db": loss}, {"lr_correlation": whole, "mono_sum_loss_db": whole}


RULES = (
    Rule(
        "lr_correlation",
        "polarity",
        default=-0.3,
        worse="low",
        margin=0.1,
        scale=0.3,
        describe=lambda v, w: (
            f"left and right are out of phase (correlation {v:+.2f}): one channel's polarity looks flipped"
        ),
    ),
    Rule(
        "mono_sum_loss_db",
        "polarity",
        default=-12.0,
        worse="low",
        margin=3.0,
        scale=6.0,
        describe=lambda v, w: f"the mono sum loses {-v:.0f} dB: left and right cancel each other",
    ),
)
