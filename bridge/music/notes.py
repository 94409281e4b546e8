"""A take's notes: Basic Pitch posteriors decoded into (onset, offset, pitch, velocity, confidence), with each
onset then placed on the audio's own attack to the millisecond (the model's frames are 11.6 ms apart).

Decoding: an onset is a local peak of a key's onset posterior above ONSET_MIN where the key's note posterior
then sounds; the note lasts while the note posterior stays above SUSTAIN_MIN (gaps of a frame or two bridged),
until the next onset of the same key. Overtones the model sometimes reports as notes of their own (an octave,
twelfth or seventeenth above a louder note starting with it) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import model

ONSET_MIN = 0.45
SUSTAIN_MIN = 0.3
MIN_FRAMES = 4  # ~46 ms
GAP_FRAMES = 2
OVERTONES = (12, 19, 24, 28)  # semitones above a fundamental where its 2nd, 3rd, 4th, 5th harmonics sit
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class Note:
    onset_s: float
    offset_s: float
    pitch: int  # MIDI
    velocity: float  # 0–1: mean note posterior while it sounds
    confidence: float  # 0–1: the onset posterior's peak
    placed: bool = False  # its onset sits on an attack found in the audio (timing trusts only these)

    @property
    def name(self) -> str:
        return NAMES[self.pitch % 12]


def pitch_name(pitch: int) -> str:
    """MIDI number to a name with octave, e.g. 43 -> "G2"."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def transcribe(mono: np.ndarray, sr: int) -> list[Note]:
    """The notes of a mono take, in onset order."""
    note, onset = model.posteriors(mono, sr)
    found = _decode(note, onset)
    found = _drop_overtones(found)
    env = _envelope(np.asarray(mono, np.float32), sr)
    return sorted((_place_onset(n, env) for n in found), key=lambda n: (n.onset_s, n.pitch))


def _decode(note: np.ndarray, onset: np.ndarray) -> list[Note]:
    frames = note.shape[0]
    if frames < 3:
        return []
    peak = (onset[1:-1] >= onset[:-2]) & (onset[1:-1] > onset[2:]) & (onset[1:-1] >= ONSET_MIN)
    ks, bins = np.nonzero(peak)
    ks = ks + 1
    out = []
    for b in np.unique(bins):
        starts = np.sort(ks[bins == b])
        for i, k in enumerate(starts):
            stop = starts[i + 1] if i + 1 < starts.size else frames
            end, gap = k, 0
            for j in range(k, stop):
                if note[j, b] >= SUSTAIN_MIN:
                    end, gap = j + 1, 0
                else:
                    gap += 1
                    if gap > GAP_FRAMES:
                        break
            if end - k < MIN_FRAMES:
                continue
            # sub-frame onset: the peak of a parabola through the onset posterior's three frames
            a, c, d = onset[k - 1, b], onset[k, b], onset[min(k + 1, frames - 1), b]
            denom = a - 2 * c + d
            delta = float(np.clip(0.5 * (a - d) / denom, -0.5, 0.5)) if denom < 0 else 0.0
            out.append(
                Note(
                    max(0.0, (k + delta) * model.FRAME_S),
                    end * model.FRAME_S,
                    int(b) + model.LOWEST_MIDI,
                    float(note[k:end, b].mean()),
                    float(c),
                )
            )
    return out


def _drop_overtones(notes: list[Note]) -> list[Note]:
    """Leave out a note that sits on a louder co-starting note's harmonic (the model hears the overtone)."""
    keep = []
    for n in notes:
        ghost = any(
            abs(m.onset_s - n.onset_s) < 0.035 and n.pitch - m.pitch in OVERTONES and m.velocity >= 0.8 * n.velocity
            for m in notes
        )
        if not ghost:
            keep.append(n)
    return keep


_ATTACK_HOP_S = 0.001
_SEARCH = 35  # ms either side of the model's onset
_TRUST = 25  # ms: a steepest rise further than this from the model's onset is not trusted as the note's
_RISE = 4  # ms over which the rise is measured
_MIN_RISE_DB = 6.0
_MIN_RISE_LONG_DB = 4.0
_LONG_PERIOD = 8  # ms: below ~125 Hz a 1 ms peak follows the waveform, not the envelope


def _envelope(mono: np.ndarray, sr: int) -> np.ndarray:
    """Peak level per 1 ms step."""
    hop = max(1, int(sr * _ATTACK_HOP_S))
    n = mono.size // hop
    if n < 8:
        return np.zeros(0, np.float32)
    return np.abs(mono[: n * hop]).reshape(n, hop).max(axis=1)


def _rise_db(env: np.ndarray, lo: int, hi: int, pitch: int) -> tuple[np.ndarray, float]:
    """Rise of the level in dB over 4 ms, at 1 ms steps, for steps lo..hi-1 (zero before step 4), and the rise
    that makes an attack. Below ~125 Hz the level is the peak over the last period of the note's pitch: a 1 ms
    peak of a 41 Hz bass note ripples with its waveform by more than a pluck's rise (finger-style bass onsets were
    placed 20–40 ms off, 1 in 20; over a period within ~8 ms), and that smoother level needs a smaller rise."""
    period = round(1.0 / (440.0 * 2 ** ((pitch - 69) / 12)) / _ATTACK_HOP_S)
    width = period if period >= _LONG_PERIOD else 1
    a = max(0, lo - _RISE - width)
    seg = env[a : hi + 1]
    if seg.size < width + 2:
        return np.zeros(hi - lo), _MIN_RISE_DB
    peak = np.lib.stride_tricks.sliding_window_view(seg, width).max(axis=1)  # peak[i]: the window ending at a+i+width-1
    level = np.convolve(20.0 * np.log10(np.maximum(peak, 1e-6)), np.ones(3) / 3, mode="valid")  # level[i]: peak[i+1]
    ends = np.arange(lo, hi) - a - width  # index into level of the window ending at each step
    rise = np.zeros(hi - lo)
    ok = (ends - _RISE >= 0) & (ends < level.size)
    rise[ok] = level[ends[ok]] - level[ends[ok] - _RISE]
    return rise, (_MIN_RISE_LONG_DB if width > 1 else _MIN_RISE_DB)


def _place_onset(n: Note, env: np.ndarray) -> Note:
    """Move the onset to the steepest rise within 35 ms of the model's onset, if there is one and it lies within
    25 ms (rendered takes: placed 25–35 ms away, 1 in 6 was 20–30 ms off; within 25 ms, 1 in 300)."""
    if not env.size:
        return n
    k = round(n.onset_s / _ATTACK_HOP_S)
    lo, hi = max(0, k - _SEARCH), min(env.size, k + _SEARCH)
    if hi - lo < 3:
        return n
    rise, need = _rise_db(env, lo, hi, n.pitch)
    j = int(np.argmax(rise))
    if rise[j] < need:  # no clear attack of its own (a legato note, or masked by a louder one)
        return n
    if abs(lo + j - k) > _TRUST:  # so far from the model's onset, the rise is as often another note's
        return n
    # the rise is measured over the 4 ms ending at j; the attack started about 3 ms before
    onset = max(0.0, (lo + j - 3) * _ATTACK_HOP_S)
    return Note(onset, max(n.offset_s, onset + model.FRAME_S), n.pitch, n.velocity, n.confidence, True)
