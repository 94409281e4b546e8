"""Spotify's Basic Pitch note model (ICASSP 2022) run in ONNX Runtime: frame-wise note, onset and contour
posteriors for 88 piano keys, polyphonic, ~86 frames per second.

Only the model file is used: `basic_pitch/saved_models/icassp_2022/nmp.onnx` inside the `basic-pitch` wheel,
found without importing the package (its __init__ probes TensorFlow, CoreML and TFLite). Install it with
`pip install --no-deps basic-pitch==0.4.0` (scripts/setup does), or point LOOPBRIDGE_BASIC_PITCH_ONNX at the file.
The session is created once per process and reused; `warm_up()` pays its first-run cost before the first take.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr

from ..errors import LoopbridgeError

SAMPLE_RATE = 22_050  # what the model was trained on
HOP = 256  # samples per output frame
WINDOW = 2 * SAMPLE_RATE - HOP  # the graph's fixed input length (43,844 samples)
FRAMES_PER_WINDOW = 172
EDGE = 15  # frames dropped at each window edge, where the model sees only half its context
KEPT = 141  # frames kept per window: the hop is a whole number of frames, so frame k is at k * HOP / SR exactly
LOWEST_MIDI = 21  # bin 0 is A0
FRAME_S = HOP / SAMPLE_RATE
_MODEL_FILE = ("saved_models", "icassp_2022", "nmp.onnx")
_OUTPUTS = ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2")  # note, onset
_lock = threading.Lock()


class NoteModelMissing(LoopbridgeError):
    """The Basic Pitch model file is not installed."""


def model_path() -> Path:
    """Where nmp.onnx is: LOOPBRIDGE_BASIC_PITCH_ONNX, else inside the installed basic-pitch package."""
    override = os.environ.get("LOOPBRIDGE_BASIC_PITCH_ONNX")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("basic_pitch")  # finds the folder; does not run the package's __init__
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_MODEL_FILE)
        if path.is_file():
            return path
    raise NoteModelMissing(
        "the musical checks need Basic Pitch's note model: pip install --no-deps basic-pitch==0.4.0 "
        "(without --no-deps it pulls TensorFlow, which loopbridge does not use)",
        "missing_note_model",
    )


@lru_cache(maxsize=1)
def session():
    """The one ONNX Runtime session of this process (thread-safe to run)."""
    from ..encoders import make_session

    return make_session(model_path())


def warm_up() -> None:
    """Create the session and run it once, so the first real take is as fast as the tenth."""
    posteriors(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)


def posteriors(mono: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(note, onset) posteriors, each (frames, 88) float32, frame k centred at k * FRAME_S seconds of `mono`."""
    x = np.asarray(mono, dtype=np.float32)
    if sr != SAMPLE_RATE:
        x = soxr.resample(x, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)
    n_frames = int(np.ceil(x.size / HOP)) if x.size else 0
    if n_frames == 0:
        return np.zeros((0, 88), np.float32), np.zeros((0, 88), np.float32)
    hop = KEPT * HOP
    n_win = int(np.ceil(n_frames / KEPT))
    padded = np.zeros(EDGE * HOP + n_win * hop + WINDOW, np.float32)
    padded[EDGE * HOP : EDGE * HOP + x.size] = x
    windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::hop][:n_win]
    batch = np.ascontiguousarray(windows)[:, :, None]
    with _lock:  # one run at a time: the session already uses every core it was given
        note, onset = session().run(list(_OUTPUTS), {"serving_default_input_2:0": batch})
    keep = slice(EDGE, EDGE + KEPT)
    note = note[:, keep].reshape(-1, 88)[:n_frames]
    onset = onset[:, keep].reshape(-1, 88)[:n_frames]
    return note, onset
