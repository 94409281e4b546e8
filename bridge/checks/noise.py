"""Noise: hiss (a broadband floor heard in the quiet moments), noise bursts over the playing, and mains hum (a steady 50/60 Hz line)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from .rules import Rule
from .take import Take, Where, db, runs

FRAME_MS = 10.0
QUIET_PERCENTILE = 10.0
BURST_FRAMES = 3  # 30 ms: longer than any attack or click stays bright
BURST_PLAYING_DB = -20.0  # frames within this of the playing level (power) are judged; rests are hiss's business
MAINS = (50.0, 60.0)
HARMONICS = (1, 2, 3)  # the reported hum level
LINE_HARMONICS = (1, 2, 3, 4, 5, 6, 7)  # the hum's waveform (buzz is rich in odd harmonics)
MIN_COHERENCE = 0.8
LINE_PROMINENCE = 1.5  # 3.5 dB: too faint to report, still part of the waveform truncation takes out
NEIGHBOURS_HZ = np.array([-6.0, -5.0, -4.0, -3.0, 3.0, 4.0, 5.0, 6.0])  # where a line's background is read


def measure(take: Take) -> tuple[dict[str, float], dict[str, Where]]:
    hiss = _hiss_db(take)
    burst, burst_where = _burst_db(take)
    hum = take.once(hum_lines)
    return {
        "hiss_db": hiss,
        "hiss_below_music_db": hiss - _music_db(take),
        "hum_db": hum.level_db,
        "burst_db": burst,
    }, {
        "hiss_db": Where(0.0, take.native.duration_s),
        "hiss_below_music_db": Where(0.0, take.native.duration_s),
        "hum_db": Where(0.0, take.native.duration_s, f"{hum.mains:.0f}"),
        "burst_db": burst_where,
    }


def _frames(take: Take) -> tuple[np.ndarray, np.ndarray]:
    """Per channel and 10 ms frame: treble power (fourth difference / 70, which is white noise's own power)
    and plain power; (channels, frames) each. The fourth difference rises 24 dB/octave, so hiss shows and a
    guitar cab's top end does not."""
    hop = int(FRAME_MS * take.sr / 1000)
    n = (take.frames - 4) // hop
    if n < 4:
        return np.zeros((take.channels, 0)), np.zeros((take.channels, 0))
    d2 = take.d2[:, : n * hop + 2]
    d4 = np.subtract(d2[:, 2:], d2[:, 1:-1])  # the second difference of the shared second difference
    d4 -= d2[:, 1:-1]
    d4 += d2[:, :-2]
    treble = d4.reshape(take.channels, n, hop)
    plain = take.x[:, 2 : n * hop + 2].reshape(take.channels, n, hop)  # d4[:, i] is centred on sample i + 2
    return np.einsum("cnh,cnh->cn", treble, treble) / (70.0 * hop), np.einsum("cnh,cnh->cn", plain, plain) / hop


def _hiss_db(take: Take) -> float:
    """Treble level of the quietest 10 ms frames."""
    treble = take.once(_frames)[0]
    power = treble.max(axis=0) if treble.size else treble
    sounding = power[power > 0]
    if not sounding.size:
        return -200.0
    return float(db(np.sqrt(np.percentile(sounding, QUIET_PERCENTILE))))


def _music_db(take: Take) -> float:
    """The take's RMS level (the loudest channel's), against which hiss is heard."""
    plain = take.once(_frames)[1]
    return float(db(np.sqrt(plain.mean(axis=1).max()))) if plain.size else -200.0


def _burst_db(take: Take) -> tuple[float, Where]:
    """How much brighter (treble share of the power) the brightest 30 ms stretch of playing is than the take's
    median, in dB. A burst of broadband noise over the music is tens of dB brighter for its whole length; a
    pick, slap or click is bright for a frame or two, and a distorted guitar is bright all the time."""
    treble, plain = (a.sum(axis=0) for a in take.once(_frames))
    if treble.size < BURST_FRAMES + 1:
        return 0.0, Where()
    playing = plain >= np.percentile(plain, 90) * 10 ** (BURST_PLAYING_DB / 10)
    share = np.where(playing, treble / np.maximum(plain, 1e-20), 0.0)
    typical = float(np.median(share[playing]))
    sustained = np.lib.stride_tricks.sliding_window_view(share, BURST_FRAMES).min(axis=1)
    i = int(np.argmax(sustained))
    ratio = float(10 * np.log10(max(sustained[i], 1e-30) / max(typical, 1e-30)))
    starts, lengths = runs(share >= sustained[i] * 0.1)  # the bright stretch around it, to -10 dB
    k = int(np.flatnonzero((starts <= i) & (starts + lengths > i))[0])
    hop = int(FRAME_MS * take.sr / 1000)
    return max(ratio, 0.0), Where(take.seconds(starts[k] * hop), take.seconds(lengths[k] * hop))


@dataclass(frozen=True)
class Hum:
    """The mains lines found in a take: level (dBFS) and mains of the reportable ones, and the frequency of
    every steady line, reportable or not (truncation takes them out at the loop's seam)."""

    level_db: float = -200.0
    mains: float = 0.0
    lines: tuple[float, ...] = ()


def hum_waveform(take: Take, hum: Hum, seconds: np.ndarray) -> tuple[np.ndarray, float]:
    """The hum's waveform at these times, and how far off that may be: the most the waveforms fitted on the
    take's first and second halves alone disagree there (music leaks into the fit differently in each)."""
    low = _low(take)
    half = low.size // 2
    waves = [
        _fit_lines(take, hum.lines, low, part, seconds) for part in (slice(None), slice(0, half), slice(half, None))
    ]
    return waves[0], float(np.max(np.abs(waves[1] - waves[2]))) if hum.lines else 0.0


def _fit_lines(take: Take, freqs: tuple[float, ...], low: np.ndarray, part: slice, seconds: np.ndarray) -> np.ndarray:
    """Sum of the lines at these frequencies, each fitted (amplitude and phase) on a part of the block averages."""
    hop = take.env_hop
    x = low[part]
    win = np.hanning(x.size)
    centres = (
        np.arange(low.size)[part] * hop + (hop - 1) / 2
    ) / take.sr  # each block average sits at its block's centre
    out = np.zeros(np.shape(seconds))
    for f in freqs:
        boxcar = np.sin(np.pi * f * hop / take.sr) / (hop * np.sin(np.pi * f / take.sr))  # what block averaging left
        c = 2.0 * np.sum(win * x * np.exp(-2j * np.pi * f * centres)) / win.sum() / boxcar
        out += (c * np.exp(2j * np.pi * f * seconds)).real
    return out


def _low(take: Take) -> np.ndarray:
    """The take at ~1 kHz, mono, without its mean: the 1 ms block averages."""
    low = take.block_sums.sum(axis=0, dtype=np.float64) / (take.env_hop * take.channels)
    return low - low.mean()


def hum_lines(take: Take) -> Hum:
    """Mains lines that keep their level and phase through the take, on the take's 1 ms block averages.

    At ~1 kHz (mono) mains and its first harmonics are far below Nyquist, and the analysis costs a
    fraction of one at the full rate.
    """
    n = take.block_sums.shape[1]
    if n < 256:
        return Hum()
    low = _low(take)
    rate = take.sr / take.env_hop
    win = np.hanning(n)
    nfft = scipy.fft.next_fast_len(4 * n, real=True)
    spec = np.abs(scipy.fft.rfft(low * win, nfft)) * 2.0 / win.sum()
    hz = rate / nfft
    reach = max(2, round(1.5 / hz))
    best, which, lines = -200.0, 0.0, []
    for f0, coh in zip(MAINS, _coherence(low, rate), strict=False):
        if coh < MIN_COHERENCE:
            continue
        harmonics = np.array([h for h in LINE_HARMONICS if f0 * h < rate / 2 - 5])
        f = f0 * harmonics
        near = spec[
            np.round(f / hz).astype(int)[:, None] + np.arange(-reach, reach + 1)[None, :]
        ]  # (lines, 2 reach + 1)
        line = near[:, reach]
        bg = np.median(spec[np.round((f[:, None] + NEIGHBOURS_HZ[None, :]) / hz).astype(int)], axis=1)
        on_mains = (
            np.abs(np.argmax(near, axis=1) - reach) * hz <= 0.3
        )  # else the peak is a note beside the mains frequency
        # reported: at least 12 dB out of its neighbourhood, a steady line and not a note's smear
        loud = on_mains & np.isin(harmonics, HARMONICS) & (line > 4 * bg)
        excess = float(np.sum(line[loud] ** 2 - bg[loud] ** 2))
        lines.extend(f[on_mains & (line > LINE_PROMINENCE * bg)].tolist())
        level = float(db(np.sqrt(excess))) if excess > 0 else -200.0
        if level > best:
            best, which = level, f0
    return Hum(best, which, tuple(lines))


def _coherence(low: np.ndarray, rate: float, parts: int = 4) -> np.ndarray:
    """Per mains frequency: 1 for a tone that keeps its level and phase through the take (hum); lower for notes that come and go."""
    m = low.size // parts
    f0 = np.asarray(MAINS)
    phasor = _phasor(f0 / rate, m)  # (m, mains), one part long
    shift = np.exp(-2j * np.pi * (np.arange(parts) * m)[:, None] * (f0 / rate)[None, :])  # where each part starts
    segments = low[: parts * m].reshape(parts, m)
    c = (np.einsum("pk,km->pm", segments, phasor.real) + 1j * np.einsum("pk,km->pm", segments, phasor.imag)) * shift / m
    return np.abs(c.mean(axis=0)) / np.maximum(np.sqrt(np.mean(np.abs(c) ** 2, axis=0)), 1e-20)


def _phasor(cycles_per_sample: np.ndarray, m: int) -> np.ndarray:
    """exp(-2 pi i f k) for k < m, as the product of a coarse and a fine table: 2 sqrt(m) complex exponentials, not m."""
    b = int(np.ceil(np.sqrt(m)))
    k = np.arange(b)[:, None] * cycles_per_sample[None, :]
    fine, coarse = np.exp(-2j * np.pi * k), np.exp(-2j * np.pi * b * k)
    return (coarse[:, None, :] * fine[None, :, :]).reshape(b * b, -1)[:m]


RULES = (
    Rule(
        "hiss_db",
        "noise",
        default=-60.0,
        worse="high",
        margin=3.0,
        scale=8.0,
        describe=lambda v, w: f"hiss: the noise floor in the quiet moments is {v:.0f} dBFS",
    ),
    Rule(
        "hiss_below_music_db",
        "noise",
        default=-30.0,
        worse="high",
        margin=3.0,
        scale=8.0,
        tightest=-45.0,  # a clean library catches hiss 40 dB under the music; 45 dB under is inaudible on any loop
        describe=lambda v, w: f"hiss: a noise floor only {-v:.0f} dB below the music",
    ),
    Rule(
        "burst_db",
        "noise",
        default=40.0,
        worse="high",
        margin=6.0,
        scale=8.0,
        tightest=25.0,  # a clean library catches bursts 20 dB under the loop's RMS; picks and slaps stay below 25
        describe=lambda v, w: (
            f"noise burst: {w.duration_s * 1000:.0f} ms of hiss or crackle over the playing at {w.start_s:.2f} s "
            f"({v:.0f} dB brighter than the rest of the take)"
        ),
    ),
    Rule(
        "hum_db",
        "noise",
        default=-60.0,
        worse="high",
        margin=3.0,
        scale=8.0,
        describe=lambda v, w: f"mains hum at {w.note} Hz, {v:.0f} dBFS: check cables and grounding",
    ),
)
