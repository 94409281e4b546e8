"""`mel-stats`: a weight-free encoder as an ONNX graph over the CLAP log-mel, so the runtime treats it like CLAP.

It summarises view 0 of the fusion input over the frames that hold audio (repeat padding's silent tail is
masked out): per-band mean, standard deviation and 10/50/90th percentiles, frame-level loudness statistics
and crest, spectral flux and onset density, spectral centroid. dB values are divided by 20 so every feature
lives on a similar scale for the heads.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .features import CHUNK_FRAMES, N_MELS

PRESET = "mel-stats"
OPSET = 17
QUANTILES = (0.1, 0.5, 0.9)
DB_SCALE = 1.0 / 20.0
ONSET_SIGMAS = 1.5
EMBEDDING_DIM = N_MELS * (2 + len(QUANTILES)) + 4 + 3 + 1 + 2


class _Graph:
    """Just enough of a builder to keep the graph readable: every call adds one node and returns its output."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, value, dtype=np.float32) -> str:
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, n_out: int = 1, **attrs) -> str:
        """Adds a node; returns its first output (TopK's indices, the second, are not needed)."""
        self._n += 1
        outs = [f"{op_type.lower()}_{self._n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0]


def _masked_moments(g: _Graph, x: str, m: str, n: str) -> tuple[str, str]:
    """Mean and std over axis 1 of x (B,T) or (B,T,F) where mask m is 1; n (B,1 or B,1,1) counts them.

    Returned as (B,1) or (B,F), ready to concatenate.
    """
    axis1 = g.const([1], np.int64)
    mean = g.op("Div", g.op("ReduceSum", g.op("Mul", x, m), axis1, keepdims=1), n)
    centred = g.op("Sub", x, mean)
    var = g.op("Div", g.op("ReduceSum", g.op("Mul", g.op("Mul", centred, centred), m), axis1, keepdims=1), n)
    std = g.op("Sqrt", g.op("Add", var, g.const(1e-8)))
    return g.op("Flatten", mean, axis=1), g.op("Flatten", std, axis=1)


def build_model() -> onnx.ModelProto:
    g = _Graph()
    axis1 = g.const([1], np.int64)
    x = g.op("Mul", g.op("Gather", "mel_fusion", g.const(0, np.int64), axis=1), g.const(DB_SCALE))  # (B,T,F)

    frames = g.op("Range", g.const(0, np.int64), g.const(CHUNK_FRAMES, np.int64), g.const(1, np.int64))
    vf = g.op("Clip", "valid_frames", g.const(2, np.int64), g.const(CHUNK_FRAMES, np.int64))
    valid = g.op("Less", g.op("Unsqueeze", frames, g.const([0], np.int64)), g.op("Unsqueeze", vf, axis1))  # (B,T)
    m2 = g.op("Cast", valid, to=TensorProto.FLOAT)
    m3 = g.op("Unsqueeze", m2, g.const([2], np.int64))
    n = g.op("Cast", g.op("Unsqueeze", vf, axis1), to=TensorProto.FLOAT)  # (B,1)

    # per band: mean, std, percentiles over the valid frames
    band_mean, band_std = _masked_moments(g, x, m3, g.op("Unsqueeze", n, g.const([2], np.int64)))
    padded_high = g.op("Where", g.op("Unsqueeze", valid, g.const([2], np.int64)), x, g.const(1e4))
    ascending = g.op("Neg", g.op("TopK", g.op("Neg", padded_high), g.const([CHUNK_FRAMES], np.int64), n_out=2, axis=1))
    nm1 = g.op("Sub", n, g.const(1.0))
    pct = []
    for q in QUANTILES:
        idx = g.op("Cast", g.op("Floor", g.op("Mul", nm1, g.const(q))), to=TensorProto.INT64)  # (B,1)
        idx = g.op("Expand", g.op("Unsqueeze", idx, g.const([2], np.int64)), g.const([1, 1, N_MELS], np.int64))
        pct.append(g.op("Squeeze", g.op("GatherElements", ascending, idx, axis=1), axis1))

    # frame loudness (mean dB over bands): mean, std, max, crest = max - mean
    level = g.op("ReduceMean", x, axes=[2], keepdims=0)  # (B,T)
    lvl_mean, lvl_std = _masked_moments(g, level, m2, n)
    lvl_max = g.op("ReduceMax", g.op("Where", valid, level, g.const(-1e4)), axes=[1], keepdims=1)
    crest = g.op("Sub", lvl_max, lvl_mean)

    # spectral flux between consecutive valid frames, and how often it spikes (onsets)
    starts, ends = g.const([0], np.int64), g.const([CHUNK_FRAMES - 1], np.int64)
    nxt = g.op("Slice", x, g.const([1], np.int64), g.const([CHUNK_FRAMES], np.int64), axis1)
    prev = g.op("Slice", x, starts, ends, axis1)
    flux = g.op("ReduceMean", g.op("Relu", g.op("Sub", nxt, prev)), axes=[2], keepdims=0)  # (B,T-1)
    fm = g.op("Slice", m2, g.const([1], np.int64), g.const([CHUNK_FRAMES], np.int64), axis1)
    fn = g.op("Sub", n, g.const(1.0))
    flux_mean, flux_std = _masked_moments(g, flux, fm, fn)
    flux_max = g.op("ReduceMax", g.op("Mul", flux, fm), axes=[1], keepdims=1)
    onset_line = g.op("Add", flux_mean, g.op("Mul", flux_std, g.const(ONSET_SIGMAS)))
    onsets = g.op("Cast", g.op("Greater", flux, onset_line), to=TensorProto.FLOAT)
    onset_rate = g.op("Div", g.op("ReduceSum", g.op("Mul", onsets, fm), axis1, keepdims=1), fn)

    # spectral centroid (band index / bands) from power
    power = g.op("Pow", g.const(10.0), g.op("Mul", x, g.const(20.0 / 10.0)))
    bands = g.const(np.arange(N_MELS, dtype=np.float32) / N_MELS)
    centroid = g.op(
        "Div",
        g.op("ReduceSum", g.op("Mul", power, bands), g.const([2], np.int64), keepdims=0),
        g.op("Add", g.op("ReduceSum", power, g.const([2], np.int64), keepdims=0), g.const(1e-12)),
    )
    cen_mean, cen_std = _masked_moments(g, centroid, m2, n)

    parts = [band_mean, band_std, *pct, lvl_mean, lvl_std, lvl_max, crest,
             flux_mean, flux_std, flux_max, onset_rate, cen_mean, cen_std]  # fmt: skip
    g.nodes.append(helper.make_node("Concat", parts, ["embedding"], axis=1))

    graph = helper.make_graph(
        g.nodes,
        "mel_stats",
        [
            helper.make_tensor_value_info("mel_fusion", TensorProto.FLOAT, ["batch", 4, CHUNK_FRAMES, N_MELS]),
            helper.make_tensor_value_info("valid_frames", TensorProto.INT64, ["batch"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="loopbridge")
    model.ir_version = 8
    helper.set_model_props(
        model,
        {"loopbridge.preset": PRESET, "loopbridge.checkpoint_sha256": "", "loopbridge.random_weights": "false"},
    )
    onnx.checker.check_model(model, full_check=True)
    return model
