"""Which runtime executes an encoder graph: ONNX Runtime (always there, CPU or CUDA) or OpenVINO (optional).

Both read the same .onnx file. `LOOPBRIDGE_ENGINE` overrides the choice: `onnxruntime`, `openvino`, or
`auto` (the default, see `choose`: OpenVINO for fp32 CLAP-sized graphs on Intel CPUs and AMD ones with
AVX-512 where it is installed, ONNX Runtime everywhere else). A requested OpenVINO that is not installed or cannot compile the graph falls
back to ONNX Runtime on the CPU with a warning, never to an error.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path

import numpy as np

from . import cpu
from .errors import EncoderError

log = logging.getLogger("loopbridge")

ENGINES = ("auto", "onnxruntime", "openvino")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
AVX512 = "avx512f"
# OpenVINO pays back its compile only on transformer-sized graphs (CLAP fp32 is 122 MB; mel-stats a few kB)
HEAVY_GRAPH_BYTES = 32 * 2**20


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


def choose(path: Path, gpu: bool = False) -> str:
    """The engine to run the encoder graph at `path` with on this machine: the one asked for, else `auto`'s
    (ONNX Runtime wherever it has a `gpu` to run on)."""
    name = requested()
    if name == "openvino" and not openvino_available():
        log.warning(
            "LOOPBRIDGE_ENGINE=openvino but openvino is not installed (pip install openvino); using onnxruntime"
        )
        return "onnxruntime"
    if name != "auto":
        return name
    return "openvino" if not gpu and prefers_openvino(path) else "onnxruntime"


def prefers_openvino(path: Path) -> bool:
    """`auto`'s rule, from benchmarks/encoder.py (docs/method.md, "Encoder speed"): OpenVINO f32 where it ran the
    same CLAP graph faster, with embeddings equal to ONNX Runtime's, on graphs big enough to gain: Intel CPUs (a
    2-core Xeon with AVX-512/AMX, idle: 55 vs 72 ms per 10 s clip, 1.50× vs 1.94× the machine's floor) and AMD
    CPUs with AVX-512 (a 2-core EPYC Zen 4, idle: 59 vs 79 ms, 1.34× vs 1.85×). ONNX Runtime elsewhere: on the
    AVX2-only EPYC OpenVINO was slower (274 vs 236 ms); a GPU is ONNX Runtime's (CUDA); int8 graphs keep ONNX
    Runtime's int8 kernels, chosen per CPU (the Encoder checks the graph's metadata)."""
    if not openvino_available() or not (cpu.vendor() == "GenuineIntel" or AVX512 in cpu.flags()):
        return False
    try:
        return path.stat().st_size >= HEAVY_GRAPH_BYTES
    except OSError:
        return False


def openvino_precision() -> str:
    """`LOOPBRIDGE_OPENVINO_PRECISION`: f32 (default, same numbers as ONNX Runtime) or bf16, which only CPUs with
    bf16 dot products run faster (measured on an AMD EPYC Zen 4: 0.54× the CPU time, cosine to f32 0.99998)."""
    precision = os.environ.get("LOOPBRIDGE_OPENVINO_PRECISION", "f32").strip().lower() or "f32"
    if precision not in ("f32", "bf16"):
        raise EncoderError(f"LOOPBRIDGE_OPENVINO_PRECISION={precision!r}: use f32 or bf16")
    return precision


class QuantisedGraph(Exception):
    """`auto` leaves an int8 graph to ONNX Runtime: said before OpenVINO spends its compile on it."""


class OpenVinoEngine:
    """An encoder graph compiled by OpenVINO for the CPU, in f32 unless `precision` says otherwise."""

    def __init__(self, path: Path, threads: int = 0, precision: str = "f32", quantised_ok: bool = True) -> None:
        import openvino as ov

        config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        model = core.read_model(str(path))
        framework = model.get_rt_info()["framework"] if model.has_rt_info("framework") else {}
        keys = framework.astype(dict) if hasattr(framework, "astype") else framework  # OVAny or dict by version
        self.metadata = {k: model.get_rt_info(["framework", k]).astype(str) for k in keys}
        if not quantised_ok and self.metadata.get("loopbridge.quantization", "none") != "none":
            raise QuantisedGraph(path)
        self.input_names = [i.get_any_name() for i in model.inputs]
        self.output_names = [o.get_any_name() for o in model.outputs]
        self.dim = int(model.outputs[0].get_partial_shape()[-1].get_length())
        self._request = core.compile_model(model, "CPU", config).create_infer_request()
        self._lock = threading.Lock()  # one infer request: unlike an ONNX Runtime session, not for two threads at once

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """First output (`embedding`) for one batch."""
        with self._lock:
            out = self._request.infer({k: feed[k] for k in self.input_names})[0]
            return np.array(out, dtype=np.float32)  # a copy: the request's buffer is reused by the next run
