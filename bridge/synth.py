"""Synthetic bass and guitar loops, clean or with one injected defect, for tests, benchmarks and the demo.

numpy (plus scipy's lfilter), deterministic from a seed. Strings are Karplus-Strong plucks rendered a period at a time,
so a two-bar loop takes milliseconds. The clean loops deliberately include what a naive check would
mistake for a defect: slap and pick attacks, palm mutes, distortion, loops that start with a rest,
and release tails that wrap around to the start.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.signal import butter, lfilter

INSTRUMENTS = {"bass": ("finger", "slap"), "guitar": ("clean", "palm_muted", "distorted")}
DEFECT_KINDS = (
    "click",
    "clipping",
    "dropout",
    "noise_burst",
    "timing_slip",
    "wrong_note",
    "dc_offset",
    "polarity",
    "truncation",
    "hum",
    "hiss",
    "level",
)
NORMAL_LABEL = "0"  # labels.csv: "0" for a clean loop, otherwise the defect kind (anything else than "0" = anomalous)

_SCALES = {
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "natural_minor": (0, 2, 3, 5, 7, 8, 10),
    "major": (0, 2, 4, 5, 7, 9, 11),
}
_STEPS_PER_BAR = 16


@dataclass(frozen=True)
class Note:
    start_s: float
    duration_s: float
    midi: int


@dataclass(frozen=True)
class Loop:
    """A rendered loop: samples are (n,) for mono, (n, 2) for stereo, float32 in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    bpm: float
    bars: int
    instrument: str
    style: str
    notes: tuple[Note, ...]

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate


@dataclass(frozen=True)
class Defect:
    """What was injected and where, in seconds from the start of the file."""

    kind: str
    start_s: float
    duration_s: float


def pluck(
    freq: float,
    n: int,
    sr: int,
    rng: np.random.Generator,
    brightness: float = 0.7,
    decay_s: float = 2.0,
    treble_decay_s: float = 0.5,
) -> np.ndarray:
    """One Karplus-Strong string: a noise burst fed back through a delay line and a low-pass.

    decay_s is the fundamental's -60 dB time, treble_decay_s that of 3 kHz; the binomial loop filter
    is as long as needed for that, so low strings lose their treble in time as real ones do.
    """
    per_period_3k = 10.0 ** (-3.0 / max(treble_decay_s * freq, 1e-3))
    taps = int(np.clip(round(np.log(per_period_3k) / np.log(np.cos(np.pi * 3000.0 / sr))), 1, sr / freq / 2))
    kernel = np.array([1.0])
    for _ in range(taps):
        kernel = np.convolve(kernel, [0.5, 0.5])
    period = max(2, round(sr / freq - taps / 2))  # the filter adds taps/2 samples of delay
    loss = 10.0 ** (-3.0 / max(decay_s * freq, 1e-3))
    burst = rng.uniform(-1.0, 1.0, period)
    # The pick's brightness is the excitation's bandwidth: about 1 kHz (finger) to 7 kHz (slap).
    # Filtered as if already circulating in the delay line, so the loop has no seam at each period.
    a = float(np.exp(-2 * np.pi * 200.0 * 40.0**brightness / sr))
    burst = np.tile(burst, 4)
    for _ in range(2):
        burst = _one_pole(burst, a)
    burst = burst[-period:]
    burst -= burst.mean()
    burst /= max(np.max(np.abs(burst)), 1e-9)
    # The delay line starts full of the burst (plus the `taps` samples the filter looks back on); the
    # output begins with its first pass through the loop filter, so every sample continues the last.
    total = taps + period + n
    buf = np.zeros(total)
    buf[:taps] = burst[period - taps :]  # taps <= period / 2 by construction
    buf[taps : taps + period] = burst
    # y[n] = loss * (h * y)[n - P] also means y[n] = loss^k * (h^k * y)[n - kP]: k periods per numpy call
    # once k periods of output exist (fewer Python iterations for high notes; identical result).
    k = int(np.clip(1024 // period, 1, max(1, 256 // taps)))
    kernel_k, loss_k = kernel, loss**k
    for _ in range(k - 1):
        kernel_k = np.convolve(kernel_k, kernel)
    warm = min(total, taps + period + (k + 1) * period + k * taps)
    j = taps + period
    while j < total:
        step, kern, gain = (period, kernel, loss) if j < warm else (k * period, kernel_k, loss_k)
        end = min(j + step, total)
        buf[j:end] = gain * np.convolve(buf[j - step - kern.size + 1 : end - step], kern, "valid")
        j = end
    return buf[taps + period :]


def make_loop(
    seed: int | np.random.Generator = 0,
    *,
    instrument: str | None = None,
    style: str | None = None,
    bpm: float | None = None,
    bars: int | None = None,
    sr: int = 48_000,
    channels: int = 1,
    rest_start: bool | None = None,
    wrap_tail: bool = True,
    peak_db: float | None = None,
    noise_floor_db: float | None = -90.0,
) -> Loop:
    """A musical bass or guitar loop; every unset option is drawn from the seed.

    wrap_tail: the release of the last notes continues at the start, as in a loop cut from a longer take.
    noise_floor_db: a recording's hiss floor (None = digital silence between notes).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    instrument = instrument or str(rng.choice(list(INSTRUMENTS)))
    if instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument!r}; choose from {sorted(INSTRUMENTS)}")
    style = style or str(rng.choice(INSTRUMENTS[instrument]))
    if style not in INSTRUMENTS[instrument]:
        raise ValueError(f"{instrument} has no style {style!r}; choose from {INSTRUMENTS[instrument]}")
    bpm = float(bpm if bpm is not None else rng.uniform(70, 170))
    bars = int(bars if bars is not None else rng.integers(1, 5))
    rest_start = bool(rng.random() < 0.25) if rest_start is None else rest_start
    peak_db = float(peak_db if peak_db is not None else rng.uniform(-10.0, -1.5))  # true peak stays below 0 dBTP

    step_s = 60.0 / bpm / 4
    loop_n = round(bars * _STEPS_PER_BAR * step_s * sr)
    notes = _pattern(rng, instrument, style, bars, step_s, rest_start)
    tail_n = int(1.5 * sr)
    out = np.zeros(loop_n + tail_n)
    for note in notes:
        voice = _render_note(note, instrument, style, sr, rng)
        i = round(note.start_s * sr)
        out[i : i + voice.size] += voice[: out.size - i]
    if style == "distorted":
        out = lfilter(*_cabinet(sr), np.tanh(6.0 * out / max(np.max(np.abs(out)), 1e-9)))
    y = out[:loop_n].copy()
    if wrap_tail:
        y[:tail_n] += out[loop_n:][:loop_n]
    y *= 10 ** (peak_db / 20) / max(np.max(np.abs(y)), 1e-9)
    if channels == 2:
        y = _widen(y, rng)
    elif channels != 1:
        raise ValueError("channels must be 1 or 2")
    if noise_floor_db is not None:
        y = y + 10 ** (noise_floor_db / 20) * rng.standard_normal(y.shape, dtype=np.float32)
    return Loop(y.astype(np.float32), sr, bpm, bars, instrument, style, tuple(notes))


def inject(y: np.ndarray, sr: int, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, Defect]:
    """Return a copy of y with one defect of the given kind, and where it is.

    y is (n,) or (n, channels). `polarity` on a mono loop returns a stereo file with the right channel
    inverted (a mis-wired second mic); `truncation` returns a shorter file that stops mid-note.
    """
    if kind not in DEFECT_KINDS:
        raise ValueError(f"unknown defect {kind!r}; choose from {', '.join(DEFECT_KINDS)}")
    x = np.array(y, dtype=np.float64, copy=True)
    two_d = x.ndim == 2
    if not two_d:
        x = x[:, None]
    x, defect = _INJECTORS[kind](x, sr, rng)
    x = np.clip(x, -1.0, 1.0)
    if not two_d and x.shape[1] == 1:
        x = x[:, 0]
    return x.astype(np.float32), defect


def write_library(
    folder: str | Path,
    n_clean: int = 40,
    n_per_defect: int = 10,
    seed: int = 0,
    *,
    kinds: tuple[str, ...] = DEFECT_KINDS,
    sr: int = 48_000,
    channels: int = 1,
    subtype: str = "PCM_24",
    bars: int | None = None,
    noise_floor_db: float | None = -90.0,
) -> Path:
    """Write clean and defective loops as WAV plus labels.csv; returns the labels path.

    labels.csv has columns file,label with label "0" for clean loops and the defect kind otherwise
    (the convention `loopbridge evaluate --labels` reads: "0" normal, anything else anomalous, named by kind).
    details.csv adds where each defect is and how the loop was made.
    """
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    jobs = [("clean", None)] * n_clean + [(k, k) for k in kinds for _ in range(n_per_defect)]
    counters: dict[str, int] = {}
    rows = []
    for name, kind in jobs:
        idx = counters[name] = counters.get(name, -1) + 1
        loop = make_loop(rng, sr=sr, channels=channels, bars=bars, noise_floor_db=noise_floor_db)
        y, defect = loop.samples, Defect("", 0.0, 0.0)
        if kind is not None:
            y, defect = inject(y, sr, kind, rng)
        fname = f"{name}_{idx:03d}.wav"
        sf.write(str(folder / fname), y, sr, subtype=subtype)
        rows.append((fname, kind or NORMAL_LABEL, defect, loop))
    labels = folder / "labels.csv"
    with labels.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        w.writerows((f, label) for f, label, _, _ in rows)
    with (folder / "details.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "start_s", "duration_s", "instrument", "style", "bpm", "bars"])
        for f, label, d, lp in rows:
            w.writerow(
                [f, label, f"{d.start_s:.6f}", f"{d.duration_s:.6f}", lp.instrument, lp.style, f"{lp.bpm:.2f}", lp.bars]
            )
    return labels


# ---- pattern and voices -------------------------------------------------------------------------


def _pattern(
    rng: np.random.Generator, instrument: str, style: str, bars: int, step_s: float, rest_start: bool
) -> list[Note]:
    scale = _SCALES[str(rng.choice(list(_SCALES)))]
    root = int(rng.choice([28, 33, 31, 26, 29])) + (0 if instrument == "bass" else 24)  # E1 A1 G1 D1 F1 (+2 oct)
    density = {"finger": 0.45, "slap": 0.55, "clean": 0.5, "palm_muted": 0.75, "distorted": 0.4}[style]
    one_bar = []
    for step in range(_STEPS_PER_BAR):
        on_beat = step % 4 == 0
        if rng.random() < (0.85 if on_beat else density * (0.9 if step % 2 == 0 else 0.6)):
            one_bar.append(step)
    if not one_bar:
        one_bar = [0]
    # Loops repeat a one-bar motif with small variations, as players do.
    steps: list[int] = []
    for b in range(bars):
        bar = [s for s in one_bar if rng.random() > 0.1] or one_bar[:1]
        steps.extend(b * _STEPS_PER_BAR + s for s in bar)
    if rest_start:
        skip = int(rng.integers(2, 5))
        steps = [s for s in steps if s >= skip] or [skip]
    elif steps[0] != 0:
        steps.insert(0, 0)
    degree = 0
    notes = []
    total = bars * _STEPS_PER_BAR
    for i, s in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else total
        degree = int(np.clip(degree + rng.choice([-2, -1, 0, 0, 1, 2, 4]), -3, len(scale) + 2))
        octave, pos = divmod(degree, len(scale))
        midi = root + 12 * octave + scale[pos]
        gate = {"palm_muted": 0.5, "slap": 0.7}.get(style, 0.95)
        jitter = rng.normal(0, 0.003) if s else 0.0  # a human player; the downbeat stays on the grid
        notes.append(Note(max(0.0, s * step_s + jitter), max(step_s, (nxt - s) * step_s) * gate, midi))
    return notes


def _render_note(note: Note, instrument: str, style: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    freq = 440.0 * 2 ** ((note.midi - 69) / 12)
    release_s = 0.06
    n = int((note.duration_s + 1.5 * release_s) * sr)
    brightness, decay_s, treble_s, velocity = {
        "finger": (0.45, 3.0, 0.25, 0.7),
        "slap": (0.97, 1.8, 0.6, 1.0),
        "clean": (0.75, 2.5, 0.6, 0.7),
        "palm_muted": (0.5, 0.18, 0.06, 0.8),
        "distorted": (0.8, 3.0, 0.8, 0.7),
    }[style]
    velocity *= rng.uniform(0.8, 1.0)
    voice = velocity * pluck(freq, n, sr, rng, brightness, decay_s, treble_s)
    if style == "distorted":  # a power chord: root, fifth, octave
        for ratio, gain in ((1.4983, 1.0), (2.0, 0.7)):
            voice += gain * velocity * pluck(freq * ratio, n, sr, rng, brightness, decay_s, treble_s)
    if style == "slap":  # the thumb's thwack: a short bright burst on top of the string
        k = int(0.004 * sr)
        thwack = _one_pole(rng.uniform(-1, 1, k), float(np.exp(-2 * np.pi * 4000.0 / sr)))
        voice[:k] += 2.0 * velocity * thwack * np.exp(-np.arange(k) / (0.001 * sr))
    attack = int((0.0003 if style == "slap" else 0.001) * sr)  # a pick or thumb takes a moment to release the string
    voice[:attack] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    gate_n = int(note.duration_s * sr)
    # Damped by a finger: the decay speeds up smoothly (Gaussian), -60 dB after release_s, no kink at the gate.
    voice[gate_n:] *= np.exp(-6.9 * (np.arange(n - gate_n) / (release_s * sr)) ** 2)
    return voice


def _widen(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two mics on one source: a small delay and level difference, still strongly correlated."""
    d = int(rng.integers(0, 4))
    right = np.roll(y, d) * rng.uniform(0.7, 1.0)  # circular: the delayed channel still loops seamlessly
    return np.stack([y, right], axis=1)


def _cabinet(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """A guitar speaker's steep roll-off above 5 kHz (4th-order Butterworth)."""
    return butter(4, 5000.0, fs=sr)


def _one_pole(x: np.ndarray, a: float) -> np.ndarray:
    """y[n] = (1-a) x[n] + a y[n-1]: the gentle low-pass of a pick or a guitar cabinet."""
    if a <= 0:
        return x
    return lfilter([1.0 - a], [1.0, -a], x)


# ---- defects ------------------------------------------------------------------------------------


def _playing(x: np.ndarray, sr: int, rel_db: float = -20.0) -> np.ndarray:
    """Sample indices (frame centres) where the loop is clearly sounding."""
    frame = max(1, int(0.01 * sr))
    mono = np.abs(x).max(axis=1)
    n = mono.size // frame
    env = mono[: n * frame].reshape(n, frame).max(axis=1)
    active = np.flatnonzero(env > env.max() * 10 ** (rel_db / 20))
    return active * frame + frame // 2


def _pick(x: np.ndarray, sr: int, rng: np.random.Generator, length: int, rel_db: float = -20.0) -> int:
    """A start index inside the playing region, leaving room for `length` samples."""
    cand = _playing(x, sr, rel_db)
    cand = cand[(cand + length < x.shape[0]) & (cand > int(0.05 * sr))]
    if cand.size == 0:
        return int(rng.integers(0, max(1, x.shape[0] - length)))
    return int(rng.choice(cand))


def _click(x, sr, rng):
    i = _pick(x, sr, rng, 4)
    width = int(rng.integers(1, 4))
    amp = rng.uniform(0.25, 0.7) * rng.choice([-1.0, 1.0])
    shape = np.array([1.0, -0.6, 0.3])[:width]
    x[i : i + width] += amp * shape[:, None]
    return x, Defect("click", i / sr, width / sr)


def _clipping(x, sr, rng):
    frac = rng.uniform(0.002, 0.03)
    ceiling = rng.choice([1.0, 1.0, rng.uniform(0.5, 0.99)])  # bounced clipped, or a clipping preamp
    level = np.quantile(np.abs(x), 1 - frac)
    x = np.clip(x * (ceiling / max(level, 1e-9)), -ceiling, ceiling)
    hit = np.flatnonzero(np.abs(x).max(axis=1) >= ceiling)
    return x, Defect("clipping", hit[0] / sr, (hit[-1] - hit[0] + 1) / sr)


def _dropout(x, sr, rng):
    n = int(rng.uniform(0.005, 0.12) * sr)
    i = _pick(x, sr, rng, n, -12.0)
    x[i : i + n] = 0.0
    return x, Defect("dropout", i / sr, n / sr)


def _noise_burst(x, sr, rng):
    n = int(rng.uniform(0.05, 0.3) * sr)
    i = _pick(x, sr, rng, n)
    rms = np.sqrt(np.mean(x**2)) or 1e-3
    burst = rng.standard_normal((n, x.shape[1])) * rms * 10 ** (rng.uniform(-6, 0) / 20)
    x[i : i + n] += burst * np.hanning(n)[:, None] ** 0.25
    return x, Defect("noise_burst", i / sr, n / sr)


def _timing_slip(x, sr, rng):
    """The player comes in late: the slot goes quiet, then the phrase starts d samples later and rejoins."""
    d = int(rng.uniform(0.02, 0.06) * sr)
    n = min(int(rng.uniform(0.2, 0.5) * sr), x.shape[0] // 2)
    i = _pick(x, sr, rng, n + d)
    fade = min(int(0.005 * sr), n // 4)
    seg = x[i : i + n].copy()
    seg[:fade] *= _ramp(fade)[:, None]
    w = np.ones(n)
    w[-fade:] = _ramp(fade)[::-1]
    x[i : i + d] *= _ramp(d)[::-1, None]
    x[i + d : i + d + n] = seg * w[:, None] + x[i + d : i + d + n] * (1 - w[:, None])
    return x, Defect("timing_slip", i / sr, (n + d) / sr)


def _ramp(n: int) -> np.ndarray:
    """0 → 1 along a half cosine: no corner at either end, so no click of its own."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n - 1, 1))


def _wrong_note(x, sr, rng):
    ratio = 2 ** (rng.choice([-2, -1, 1, 2, 6]) / 12)
    n = int(rng.uniform(0.15, 0.4) * sr)
    src_n = int(n * ratio)
    i = _pick(x, sr, rng, max(n, src_n))
    pos = np.arange(n) * ratio
    shifted = np.stack(
        [np.interp(pos, np.arange(src_n + 1), x[i : i + src_n + 1, c]) for c in range(x.shape[1])], axis=1
    )
    fade = int(0.005 * sr)
    w = np.ones(n)
    w[:fade] = _ramp(fade)
    w[-fade:] = _ramp(fade)[::-1]
    x[i : i + n] = x[i : i + n] * (1 - w[:, None]) + shifted * w[:, None]
    return x, Defect("wrong_note", i / sr, n / sr)


def _dc_offset(x, sr, rng):
    x = x + rng.uniform(0.03, 0.2) * rng.choice([-1.0, 1.0])
    return x, Defect("dc_offset", 0.0, x.shape[0] / sr)


def _polarity(x, sr, rng):
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    x[:, int(rng.integers(0, x.shape[1]))] *= -1.0
    return x, Defect("polarity", 0.0, x.shape[0] / sr)


def _truncation(x, sr, rng):
    n = x.shape[0]
    # cut where a note is sounding right now (1 ms peaks near the loop's usual level), not in a gap
    frame = max(1, sr // 1000)
    env = np.abs(x[: n // frame * frame]).max(axis=1).reshape(-1, frame).max(axis=1)
    cand = np.flatnonzero(env >= np.percentile(env, 90) * 10 ** (-12 / 20)) * frame
    cand = cand[(cand > n * 0.55) & (cand < n * 0.92)]
    cut = int(rng.choice(cand)) if cand.size else int(n * 0.75)
    return x[:cut], Defect("truncation", cut / sr, (n - cut) / sr)


def _hum(x, sr, rng):
    f0 = float(rng.choice([50.0, 60.0]))
    t = np.arange(x.shape[0]) / sr
    hum = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5))
    x = x + (10 ** (rng.uniform(-42, -30) / 20) * hum / 1.6)[:, None]
    return x, Defect("hum", 0.0, x.shape[0] / sr)


def _hiss(x, sr, rng):
    x = x + 10 ** (rng.uniform(-52, -40) / 20) * rng.standard_normal(x.shape)
    return x, Defect("hiss", 0.0, x.shape[0] / sr)


def _level(x, sr, rng):
    if rng.random() < 0.5:  # recorded far too quiet
        x = x * (10 ** (-45 / 20) / max(np.max(np.abs(x)), 1e-9)) * 10 ** (rng.uniform(-8, 0) / 20)
    else:  # squashed and pushed to the ceiling
        drive = rng.uniform(4.0, 10.0) / max(np.max(np.abs(x)), 1e-9)
        x = 0.99 * np.tanh(x * drive)
    return x, Defect("level", 0.0, x.shape[0] / sr)


_INJECTORS = {
    "click": _click,
    "clipping": _clipping,
    "dropout": _dropout,
    "noise_burst": _noise_burst,
    "timing_slip": _timing_slip,
    "wrong_note": _wrong_note,
    "dc_offset": _dc_offset,
    "polarity": _polarity,
    "truncation": _truncation,
    "hum": _hum,
    "hiss": _hiss,
    "level": _level,
}


def with_defect(loop: Loop, kind: str, rng: np.random.Generator) -> tuple[Loop, Defect]:
    """inject() for a Loop, keeping its musical description."""
    y, defect = inject(loop.samples, loop.sample_rate, kind, rng)
    return replace(loop, samples=y), defect


# ---- parts played several times -----------------------------------------------------------------

PART_DEFECTS = ("timing_slip", "wrong_note", "buzz")
KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_PART_SCALES = {"minor": _SCALES["natural_minor"], "major": _SCALES["major"]}


@dataclass(frozen=True)
class PartNote:
    """A note of the written part: where it starts (sixteenth steps), how long, and its pitches (a chord when several)."""

    step: int
    steps: int
    pitches: tuple[int, ...]


@dataclass(frozen=True)
class Part:
    """A bass line or strummed chord part that can be played again and again (see play_part)."""

    instrument: str
    style: str
    bpm: float
    bars: int
    root: int  # pitch class of the key
    scale: str  # "minor" or "major"
    swing: float  # 0 straight; 1 puts every off-beat sixteenth a third of a sixteenth late
    notes: tuple[PartNote, ...]

    @property
    def key(self) -> str:
        return f"{KEY_NAMES[self.root]} {self.scale}"

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + d) % 12 for d in _PART_SCALES[self.scale])


def make_part(
    seed: int | np.random.Generator = 0,
    *,
    instrument: str | None = None,
    style: str | None = None,
    bpm: float | None = None,
    bars: int = 2,
    swing: float | None = None,
    scale: str | None = None,
) -> Part:
    """A written part: bass lines are single notes, guitar parts strummed triads (distorted: power chords)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    instrument = instrument or str(rng.choice(list(INSTRUMENTS)))
    style = style or str(rng.choice(INSTRUMENTS[instrument]))
    if style not in INSTRUMENTS.get(instrument, ()):
        raise ValueError(f"{instrument} has no style {style!r}")
    bpm = float(bpm if bpm is not None else rng.uniform(80, 140))
    swing = float(swing if swing is not None else rng.choice([0.0, 0.0, 0.6, 1.0]))
    scale = scale or str(rng.choice(list(_PART_SCALES)))
    root = int(rng.integers(0, 12))
    degrees = _PART_SCALES[scale]
    base = (28 if instrument == "bass" else 52) + (root - 4) % 12  # lowest root from E1 (bass) or E3 (guitar)
    chords = instrument == "guitar"
    beat_steps = [0, 2] if chords else [0, 1, 2, 3]
    motif = [
        s for b in range(4) for s in (b * 4 + o for o in beat_steps) if rng.random() < (0.9 if s % 4 == 0 else 0.5)
    ]
    motif = motif if motif and motif[0] == 0 else [0, *motif]
    notes = []
    for bar in range(bars):
        for i, s in enumerate(motif):
            nxt = motif[i + 1] if i + 1 < len(motif) else _STEPS_PER_BAR
            degree = int(rng.choice([0, 0, 2, 3, 4, 5])) if s % 8 == 0 else int(rng.integers(0, 7))
            if chords and style == "distorted":
                r = base + degrees[degree % 7]
                pitches: tuple[int, ...] = (r, r + 7)
            elif chords:
                pitches = tuple(base + 12 * ((degree + k) // 7) + degrees[(degree + k) % 7] for k in (0, 2, 4))
            else:
                pitches = (base + 12 * int(rng.random() < 0.25) + degrees[degree % 7],)
            notes.append(PartNote(bar * _STEPS_PER_BAR + s, max(1, nxt - s), pitches))
    return Part(instrument, style, bpm, bars, root, scale, swing, tuple(notes))


def play_part(
    part: Part,
    seed: int | np.random.Generator = 0,
    *,
    defect: str | None = None,
    strength: float = 1.0,
    sr: int = 48_000,
    channels: int = 1,
    timing_sd_s: float = 0.004,
    noise_floor_db: float | None = -90.0,
) -> tuple[Loop, Defect | None]:
    """One take of the part: fresh human timing and velocity, optionally one musical fault.

    defect: "timing_slip" (1–3 attacks in a row 30–120 ms early or late; strength 0–1 moves it from 30 to
    120 ms), "wrong_note" (one attack a semitone out of the key, on every string of a chord half the time),
    "buzz" (80–700 ms of rattle after one attack, strength 0–1 from faint to obvious).
    """
    if defect is not None and defect not in PART_DEFECTS:
        raise ValueError(f"unknown part defect {defect!r}; choose from {', '.join(PART_DEFECTS)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    step_s = 60.0 / part.bpm / 4
    n = len(part.notes)
    starts = np.array([p.step * step_s for p in part.notes])
    starts += np.array([part.swing * step_s / 3 if p.step % 2 else 0.0 for p in part.notes])
    starts += rng.normal(0.0, timing_sd_s, n) * (np.arange(n) > 0)  # the downbeat stays on the grid
    pitches = [list(p.pitches) for p in part.notes]
    target = int(rng.integers(1, n)) if n > 1 else 0
    info: Defect | None = None
    if defect == "timing_slip":
        count = int(rng.integers(1, 4))
        shift = (0.03 + 0.09 * float(np.clip(strength, 0, 1))) * rng.choice([-1.0, 1.0])
        hit = list(range(target, min(n, target + count)))
        starts[hit] += shift
        starts = np.maximum(starts, 0.0)
        info = Defect("timing_slip", float(starts[hit[0]]), float(starts[hit[-1]] - starts[hit[0]] + 0.1))
    elif defect == "wrong_note":
        scale_pcs = part.pitch_classes
        chord = pitches[target]
        strings = range(len(chord)) if rng.random() < 0.5 else [int(rng.integers(0, len(chord)))]
        for k in strings:
            moves = [m for m in (1, -1) if (chord[k] + m) % 12 not in scale_pcs] or [1]
            chord[k] += int(rng.choice(moves))
        info = Defect("wrong_note", float(starts[target]), part.notes[target].steps * step_s)
    buzz_len = float(rng.uniform(0.08, 0.7))
    buzz_rng = np.random.default_rng(int(rng.integers(2**31)))  # its own: the take is the same but for the rattle
    loop_n = round(part.bars * _STEPS_PER_BAR * step_s * sr)
    out = np.zeros(loop_n + int(1.5 * sr))
    played: list[Note] = []
    strum = 0.012 if part.instrument == "guitar" and part.style != "distorted" else 0.0
    for i, p in enumerate(part.notes):
        down = rng.random() < 0.7
        order = pitches[i] if down else pitches[i][::-1]
        for k, midi in enumerate(order):
            note = Note(float(starts[i] + k * strum * rng.uniform(0.7, 1.3)), p.steps * step_s * 0.95, int(midi))
            voice = _render_note(note, part.instrument, part.style, sr, rng)
            if defect == "buzz" and i == target:
                voice = _rattle(voice, sr, buzz_rng, strength, buzz_len)
            j = round(note.start_s * sr)
            out[j : j + voice.size] += voice[: out.size - j]
            played.append(note)
    if defect == "buzz":
        info = Defect("buzz", float(starts[target]), buzz_len)
    if part.style == "distorted":
        out = lfilter(*_cabinet(sr), np.tanh(6.0 * out / max(np.max(np.abs(out)), 1e-9)))
    y = out[:loop_n].copy()
    y[: out.size - loop_n] += out[loop_n:][:loop_n]
    y *= 10 ** (float(rng.uniform(-8.0, -2.0)) / 20) / max(np.max(np.abs(y)), 1e-9)
    if channels == 2:
        y = _widen(y, rng)
    elif channels != 1:
        raise ValueError("channels must be 1 or 2")
    if noise_floor_db is not None:
        y = y + 10 ** (noise_floor_db / 20) * rng.standard_normal(y.shape)
    loop = Loop(y.astype(np.float32), sr, part.bpm, part.bars, part.instrument, part.style, tuple(played))
    return loop, info


def _rattle(voice: np.ndarray, sr: int, rng: np.random.Generator, strength: float, length_s: float) -> np.ndarray:
    """The string slapping a fret: its swing above the fret is clipped off hard, and each slap adds a burst of noise."""
    s = float(np.clip(strength, 0.05, 1.0))
    a, b = int(0.005 * sr), min(voice.size, int((0.005 + length_s) * sr))
    seg = voice[a:b]
    if seg.size < 16:
        return voice
    fret = np.max(np.abs(seg)) * (1.0 - 0.6 * s)
    slapped = np.clip(seg, -fret, fret)
    excess = np.abs(seg) - np.abs(slapped)
    hiss = _one_pole(rng.standard_normal(seg.size), 0.0)
    hiss = hiss - _one_pole(hiss, float(np.exp(-2 * np.pi * 2000.0 / sr)))  # noise above ~2 kHz
    env = np.ones(seg.size)
    fade = min(int(0.01 * sr), seg.size // 4)
    env[-fade:] = np.linspace(1.0, 0.0, fade)
    rattle = slapped + (6.0 * s * excess + 0.25 * s * np.abs(seg)) * hiss
    out = voice.copy()
    out[a:b] = seg + (rattle - seg) * env
    return out
