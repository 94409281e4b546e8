"""Clicks and pops: a jump of one to a few samples that stands far above the sound around it.

The second difference of the waveform is near zero for a bass note and large for a click; a pick
or slap attack is large too, but for milliseconds, so its surroundings are just as rough. A click
is judged against the roughness of the 2 ms on either side, leaving out its own few samples.
"""

from __future__ import annotations

import numpy as np

from .rules import Rule
from .take import Take, Where, db

CONTEXT_MS = 2.0
OWN = 3  # samples on either side that belong to the click itself
MIN_JUMP = 1e-3  # -60 dBFS: smaller jumps are quantisation or too quiet to hear
CANDIDATES = 256
MERGE = 8  # candidates this close are one click


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    r = np.abs(take.d2).max(axis=0) if take.channels > 1 else np.abs(take.d2[0])  # r[i] is centred on sample i + 1
    w = max(OWN + 4, int(CONTEXT_MS * take.sr / 1000))
    none = {"click_db": 0.0}, {"click_db": Where()}
    if r.size < 2 * w + 1:
        return none
    cand = _loudest_per_block(r)
    cand = cand[(r[cand] >= MIN_JUMP) & (cand >= w) & (cand < r.size - w)]
    cand = cand[~_at_ceiling(take, cand + 1)]
    if not cand.size:
        return none
    offs = np.concatenate([np.arange(-w, -OWN), np.arange(OWN + 1, w + 1)])
    context = np.sqrt(np.mean(r[cand[:, None] + offs[None, :]] ** 2, axis=1))
    ratio = r[cand] / np.maximum(context, MIN_JUMP * 0.05)
    ratio_db = np.asarray(db(ratio))
    order = np.argsort(cand)
    times, scores = cand[order], ratio_db[order]
    # one click per cluster of nearby candidates: its loudest sample
    cluster = np.concatenate([[0], np.cumsum(np.diff(times) > MERGE)])
    best = np.full(cluster[-1] + 1, -np.inf)
    np.maximum.at(best, cluster, scores)
    worst = int(np.argmax(scores))
    n_loud = int(np.sum(best > RULES[0].default))
    return {"click_db": float(scores[worst])}, {
        "click_db": Where(take.seconds(times[worst] + 1), 1.0 / take.sr, str(max(n_loud, 1)))
    }


def _loudest_per_block(r: np.ndarray, block: int = 64) -> np.ndarray:
    """Where the biggest jumps are: the peak of each of the CANDIDATES roughest 64-sample blocks (cheaper than a full sort)."""
    n = r.size // block
    if n <= CANDIDATES:
        return np.argpartition(r, -min(CANDIDATES, r.size))[-min(CANDIDATES, r.size) :]
    top = np.argpartition(np.maximum.reduceat(r[: n * block], np.arange(0, n * block, block)), -CANDIDATES)[
        -CANDIDATES:
    ]
    return top * block + r[: n * block].reshape(n, block)[top].argmax(axis=1)


def _at_ceiling(take: Take, idx: np.ndarray) -> np.ndarray:
    """Corners of a clipped flat top also jump; they are clipping's to report, not clicks."""
    if not idx.size:
        return np.zeros(0, bool)
    pos = np.clip(idx[:, None] + np.arange(-3, 4)[None, :], 0, take.frames - 1)
    near = take.abs[:, pos] >= take.peaks[:, None, None] * (1 - 1e-4)  # (ch, k, 7)
    return (near.sum(axis=2) >= 3).any(axis=0) & (take.peak > 0.1)


def _describe(v: float, w: Where) -> str:
    n = int(w.note or 1)
    what = f"click at {w.start_s:.2f} s" if n == 1 else f"{n} clicks, the loudest at {w.start_s:.2f} s"
    return f"{what} ({v:.0f} dB above the sound around it)"


RULES = (Rule("click_db", "click", default=22.0, worse="high", margin=3.0, scale=8.0, describe=_describe),)
