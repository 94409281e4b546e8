"""Polarity and phase: channels that cancel when summed to mono (a flipped cable, mic or plug-in), for the whole
take or for a stretch of it.

The whole take's L/R correlation finds a channel flipped throughout; a flip over part of the take hides in that
average. So the take is also cut into 50 ms windows and, where both channels carry signal, each window's
correlation is read: a stretch of windows that cancel (correlation below -0.5, i.e. the mono sum at least 6 dB
down) is a partial flip. Wide reverbs, chorus and ping-pong delays decorrelate the channels (correlation
around 0, now and then briefly negative), they do not keep them in opposite phase for a quarter of a second.
"""

from __future__ import annotations

import numpy as np

from .rules import Rule
from .take import Take, Where, runs

WINDOW_S = 0.05
OPPOSED = -0.5  # a window's correlation below this: the channels cancel (mono sum >= 6 dB down)
ACTIVE_DB = -40.0  # a window carries signal when each channel is within this of its own 90th-percentile power
FLOOR = 1e-9  # -90 dBFS power: below this a window is the noise floor on any channel


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    """Whole-take correlation and mono-sum loss of the first two channels, and the longest out-of-phase stretch."""
    if take.channels < 2:
        return {"lr_correlation": 1.0, "mono_sum_loss_db": 0.0, "flipped_s": 0.0}, {
            "lr_correlation": Where(),
            "mono_sum_loss_db": Where(),
            "flipped_s": Where(),
        }
    hop = max(1, int(WINDOW_S * take.sr))
    n = take.frames // hop
    lr = take.x[:2]
    win = lr[:, : n * hop].reshape(2, n, hop)
    means = win.sum(axis=2).astype(np.float64)  # (2, n) window sums (float32 pairwise sums: exact enough, 2x faster)
    sll, srr, slr = (np.einsum("nh,nh->n", win[a], win[b]).astype(np.float64) for a, b in ((0, 0), (1, 1), (0, 1)))
    tail = lr[:, n * hop :]
    t_ll, t_rr, t_lr = (float(np.einsum("i,i->", tail[a], tail[b])) for a, b in ((0, 0), (1, 1), (0, 1)))
    corr, loss = _correlation(
        sll.sum() + t_ll,
        srr.sum() + t_rr,
        slr.sum() + t_lr,
        means[0].sum() + tail[0].sum(dtype=np.float64),
        means[1].sum() + tail[1].sum(dtype=np.float64),
        take.frames,
    )
    whole = Where(0.0, take.native.duration_s)
    flipped, where = _flipped(take, hop, means, sll, srr, slr)
    return {"lr_correlation": corr, "mono_sum_loss_db": loss, "flipped_s": flipped}, {
        "lr_correlation": whole,
        "mono_sum_loss_db": whole,
        "flipped_s": where,
    }


def _correlation(sll: float, srr: float, slr: float, sl: float, sr: float, n: int) -> tuple[float, float]:
    """Correlation around the means, and the level of (L+R)/2 against the channels' average level in dB:
    0 dB in phase, -3 dB unrelated, far lower when they cancel."""
    ml, mr = sl / max(n, 1), sr / max(n, 1)
    cll, crr, clr = sll - n * ml * ml, srr - n * mr * mr, slr - n * ml * mr
    corr = float(clr / np.sqrt(cll * crr)) if cll > 0 and crr > 0 else 1.0
    ratio = max((cll + crr + 2 * clr) / 4, 0.0) / max((cll + crr) / 2, 1e-30)
    return corr, float(max(10.0 * np.log10(max(ratio, 1e-10)), -100.0))


def _flipped(
    take: Take, hop: int, sums: np.ndarray, sll: np.ndarray, srr: np.ndarray, slr: np.ndarray
) -> tuple[float, Where]:
    """Seconds of the longest stretch whose sounding windows all cancel (a window between them that is silent on
    either channel neither breaks nor lengthens it), with the stretch's mono-sum loss as the note."""
    if sll.size < 3:
        return 0.0, Where()
    ml, mr = sums[0] / hop, sums[1] / hop
    cll, crr, clr = sll - hop * ml * ml, srr - hop * mr * mr, slr - hop * ml * mr
    loud = ACTIVE_DB / 10
    active = (cll > max(np.percentile(cll, 90) * 10**loud, FLOOR * hop)) & (
        crr > max(np.percentile(crr, 90) * 10**loud, FLOOR * hop)
    )
    idx = np.flatnonzero(active)
    if idx.size < 3:
        return 0.0, Where()
    c = clr[idx] / np.sqrt(cll[idx] * crr[idx])
    c = np.median(np.stack([np.r_[c[:1], c[:-1]], c, np.r_[c[1:], c[-1:]]]), axis=0)  # one stray window is no break
    starts, lengths = runs(c < OPPOSED)
    if not starts.size:
        return 0.0, Where()
    first, last = idx[starts], idx[starts + lengths - 1]
    k = int(np.argmax(last - first))
    a, b = int(first[k]), int(last[k]) + 1
    inside = slice(a, b)
    _, loss = _correlation(
        float(sll[inside].sum()),
        float(srr[inside].sum()),
        float(slr[inside].sum()),
        float(sums[0, inside].sum()),
        float(sums[1, inside].sum()),
        (b - a) * hop,
    )
    start_s, duration_s = take.seconds(a * hop), take.seconds((b - a) * hop)
    return duration_s, Where(start_s, duration_s, _span(start_s, duration_s, take.tempo_bpm, loss))


def _span(start_s: float, duration_s: float, tempo_bpm: float | None, loss_db: float) -> str:
    """Where the flip is, in bars of 4/4 when the tempo is known, else in seconds; and what it costs in mono."""
    end_s = start_s + duration_s
    seconds = f"{start_s:.2f}–{end_s:.2f} s"
    where = f"from {start_s:.2f} s to {end_s:.2f} s"
    if tempo_bpm:
        bar_s = 4 * 60.0 / tempo_bpm
        first = int(np.floor(start_s / bar_s + 0.1)) + 1  # a window's worth of slack at either edge
        last = max(first, int(np.ceil(end_s / bar_s - 0.1)))
        where = f"in bar {first} ({seconds})" if first == last else f"in bars {first}–{last} ({seconds})"
    return f"{where}; the mono sum loses {-loss_db:.0f} dB there"


def _describe_flip(v: float, w: Where) -> str:
    return f"one channel's polarity is flipped {w.note}"


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
    Rule("flipped_s", "polarity", default=0.25, worse="high", margin=0.25, scale=1.0, describe=_describe_flip),
)
