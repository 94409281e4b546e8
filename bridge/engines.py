"""Which runtime executes an encoder graph: ONNX Runtime (always there, CPU or CUDA) or OpenVINO (optional).

Both read the same .onnx file. `LOOPBRIDGE_ENGINE` overrides the choice: `onnxruntime`, `openvino`, or
`auto` (the default: ONNX Runtime, see `choose`). A requested OpenVINO that is not installed or cannot
compile the graph falls back to ONNX Runtime on the CPU with a warning, never to an error.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import numpy as np

from . import cpu
from .errors import EncoderError

log = logging.getLogger("loopbridge")

ENGINES = ("auto", "onnxruntime", "openvino")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def has_native_bf16() -> bool:
    """x86 CPUs with bf16 dot products, where OpenVINO would run bf16 unless asked for f32."""
    return any(f in cpu.flags() for f in BF16_FLAGS)


def requested() -> str:
    """The engine asked for in `LOOPBRIDGE_ENGINE` (default `auto`); an unknown name is an error that says the choices."""
    name = os.environ.get("LOOPBRIDGE_ENGINE", "auto").strip().lower() or "auto"
    if name not in ENGINES:
        raise EncoderError(f"LOOPBRIDGE_ENGINE={name!r} is not an engine: use one of {', '.join(ENGINES)}")
    return name


def choose() -> str:
    """The engine to run an encoder with on this machine.

    `auto` is ONNX Runtime on every CPU measured so far (benchmarks/encoder.py, README "Encoder speed"):
    OpenVINO f32 on the same graph was slower or no faster on both the Intel Xeon and the AMD EPYC."""
    name = requested()
    if name == "openvino" and not openvino_available():
        log.warning(
            "LOOPBRIDGE_ENGINE=openvino but openvino is not installed (pip install openvino); using onnxruntime"
        )
        return "onnxruntime"
    return "onnxruntime" if name == "auto" else name


def openvino_precision() -> str:
    """`LOOPBRIDGE_OPENVINO_PRECISION`: f32 (default, same numbers as ONNX Runtime) or bf16, which only CPUs with
    bf16 dot products run faster (measured on an AMD EPYC Zen 4: 0.54× the CPU time, cosine to f32 0.99998)."""
    precision = os.environ.get("LOOPBRIDGE_OPENVINO_PRECISION", "f32").strip().lower() or "f32"
    if precision not in ("f32", "bf16"):
        raise EncoderError(f"LOOPBRIDGE_OPENVINO_PRECISION={precision!r}: use f32 or bf16")
    return precision


class OpenVinoEngine:
    """An encoder graph compiled by OpenVINO for the CPU, in f32 unless `precision` says otherwise."""

    def __init__(self, path: Path, threads: int = 0, precision: str = "f32") -> None:
        import openvino as ov

        config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        model = core.read_model(str(path))
        framework = model.get_rt_info()["framework"] if model.has_rt_info("framework") else {}
        keys = framework.astype(dict) if hasattr(framework, "astype") else framework  # OVAny or dict by version
        self.metadata = {k: model.get_rt_info(["framework", k]).astype(str) for k in keys}
        self.input_names = [i.get_any_name() for i in model.inputs]
        self.output_names = [o.get_any_name() for o in model.outputs]
        self.dim = int(model.outputs[0].get_partial_shape()[-1].get_length())
        self._request = core.compile_model(model, "CPU", config).create_infer_request()

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """First output (`embedding`) for one batch."""
        return np.asarray(self._request.infer({k: feed[k] for k in self.input_names})[0], dtype=np.float32)
