"""Encoder presets and ONNX Runtime sessions: every encoder, CLAP or not, is one ONNX graph with one contract.

Contract: inputs `mel_fusion` float32 [B,4,1001,64], `longer` bool [B], `valid_frames` int64 [B] and/or
`waveform` float32 [B,480000] (a graph declares only what it reads; clips are prepared with just those);
first output `embedding` float32 [B,D]; metadata
`loopbridge.preset`, `loopbridge.checkpoint_sha256`, `loopbridge.random_weights`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import cpu, engines, features, mel_stats, paths
from .audio import Clip
from .errors import EncoderError
from .hashing import file_sha256

log = logging.getLogger("loopbridge")


@dataclass(frozen=True)
class EncoderPreset:
    name: str
    description: str
    repo_id: str | None = None  # Hugging Face repository holding the checkpoint
    filename: str | None = None
    sha256: str | None = None  # of the checkpoint file, checked after download
    size: int | None = None  # bytes
    embedding_dim: int | None = None

    @property
    def needs_weights(self) -> bool:
        return self.filename is not None

    @property
    def hub_file(self) -> tuple[str, str]:
        """(repository, file name) of the checkpoint on the Hub; only presets that need weights have one."""
        if self.repo_id is None or self.filename is None:
            raise EncoderError(f"encoder preset {self.name!r} needs no weights")
        return self.repo_id, self.filename


PRESETS: dict[str, EncoderPreset] = {
    p.name: p
    for p in (
        EncoderPreset(
            "mel-stats",
            "weight-free log-mel statistics (offline default)",
            embedding_dim=mel_stats.EMBEDDING_DIM,
        ),
        EncoderPreset(
            "clap-htsat-fused",
            "LAION-CLAP HTSAT-tiny with feature fusion (the paper's encoder)",
            repo_id="lukewys/laion_clap",
            filename="630k-audioset-fusion-best.pt",
            embedding_dim=768,
        ),
        EncoderPreset(
            "clap-htsat-music",
            "LAION-CLAP HTSAT-base trained on music + AudioSet, no fusion",
            repo_id="lukewys/laion_clap",
            filename="music_audioset_epoch_15_esc_90.14.pt",
            embedding_dim=1024,
        ),
    )
}
DEFAULT_ENCODER = "clap-htsat-fused"
FALLBACK_ENCODER = "mel-stats"


def encoder_path(preset: str) -> Path:
    return paths.encoders_dir() / f"{preset}.onnx"


@lru_cache(maxsize=1)
def execution_providers() -> tuple[str, ...]:
    """CUDA when onnxruntime-gpu finds a usable GPU, else CPU. `LOOPBRIDGE_PROVIDER=cpu` forces CPU."""
    import onnxruntime as ort

    cpu = ("CPUExecutionProvider",)
    if os.environ.get("LOOPBRIDGE_PROVIDER", "").lower() == "cpu":
        return cpu
    if "CUDAExecutionProvider" not in ort.get_available_providers() or not _nvidia_driver_present():
        return cpu
    if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from the nvidia-* wheels (~220 MB resident), only with a GPU
        try:
            ort.preload_dlls()
        except Exception as exc:  # a missing library just means the CPU
            log.debug("onnxruntime.preload_dlls: %s", exc)
    ort.set_default_logger_severity(4)  # a machine without a GPU is normal, not an error worth printing
    try:
        session = ort.InferenceSession(_probe_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    finally:
        ort.set_default_logger_severity(3)
    if session.get_providers()[0] == "CUDAExecutionProvider":
        return ("CUDAExecutionProvider", "CPUExecutionProvider")
    return cpu


def _nvidia_driver_present() -> bool:
    """The NVIDIA driver's library loads only where a driver (and so a GPU) is installed."""
    import ctypes

    for name in ("libcuda.so.1", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _probe_model() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime we support
    return model.SerializeToString()


def make_session(model: Path | bytes):
    """One place for session options, shared by encoders and heads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Denormals in attention softmax slow the CPU kernels several-fold; flushing them changes nothing audible.
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    threads = int(os.environ.get("LOOPBRIDGE_THREADS", "0"))
    if threads:
        opts.intra_op_num_threads = threads
    # Idle worker threads sleep instead of spinning: the encoder shares the CPU with the DAW, and on a busy
    # 2-core machine spinning workers were measured slower (benchmarks/encoder.py). LOOPBRIDGE_SPIN=1 restores it.
    spin = os.environ.get("LOOPBRIDGE_SPIN", "0") == "1"
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, opts, providers=list(execution_providers()))
    except Exception as exc:
        where = "model bytes" if isinstance(model, bytes) else str(model)
        raise EncoderError(f"could not load ONNX graph {where}: {exc}") from exc


def ensure_mel_stats() -> Path:
    """The mel-stats graph needs no weights, so it is built on first use and cached like any encoder."""
    path = encoder_path(mel_stats.PRESET)
    if not path.exists():
        paths.write_atomically(path, lambda f: f.write(mel_stats.build_model().SerializeToString()))
    return path


def resolve(name_or_path: str | None) -> Path:
    """Preset name, ONNX file, or None for the best encoder available (CLAP if cached, else mel-stats)."""
    if name_or_path is None:
        if encoder_path(DEFAULT_ENCODER).exists():
            return encoder_path(DEFAULT_ENCODER)
        log.warning(
            "CLAP encoder not installed (run `loopbridge encoder fetch`); using the weight-free "
            "'mel-stats' encoder instead."
        )
        return ensure_mel_stats()
    if name_or_path == mel_stats.PRESET:
        return ensure_mel_stats()
    if name_or_path in PRESETS:
        path = encoder_path(name_or_path)
        if not path.exists():
            raise EncoderError(
                f"encoder '{name_or_path}' is not installed. Run `loopbridge encoder fetch --preset "
                f"{name_or_path}`, or `loopbridge encoder export --checkpoint FILE --preset {name_or_path}` "
                f"if you already have the checkpoint; `--encoder mel-stats` works without weights."
            )
        return path
    path = Path(name_or_path)
    if path.suffix == ".onnx" and path.is_file():
        return path
    raise EncoderError(f"unknown encoder '{name_or_path}': use one of {', '.join(PRESETS)} or a path to an .onnx file")


def prepare_inputs(samples: np.ndarray, input_names: Collection[str]) -> dict[str, np.ndarray]:
    """One 48 kHz mono clip → just the encoder inputs named (the front-end, without an ONNX session)."""
    out: dict[str, np.ndarray] = {}
    if any(k in input_names for k in features.FUSION_INPUTS):
        out.update(features.fusion_arrays(features.fusion_input(samples)))
    if "waveform" in input_names:
        out["waveform"] = features.waveform_view(samples)
    return out


class Encoder:
    """An ONNX encoder session: clips in, one fixed-size embedding per clip out."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.engine = engines.choose(self.path, gpu=_nvidia_driver_present())
        self._openvino = self._open_openvino() if self.engine == "openvino" else None
        if self._openvino is not None:
            meta, self._inputs = self._openvino.metadata, self._openvino.input_names
            self._output, self.dim, self.provider = self._openvino.output_names[0], self._openvino.dim, "OpenVINO CPU"
        else:
            self.engine = "onnxruntime"
            self.session = make_session(self.path)
            meta = self.session.get_modelmeta().custom_metadata_map
            self._inputs = [i.name for i in self.session.get_inputs()]
            self._output = self.session.get_outputs()[0].name
            self.dim = int(self.session.get_outputs()[0].shape[-1])
            self.provider = self.session.get_providers()[0]
        self.name = meta.get("loopbridge.preset") or self.path.stem
        self.random_weights = meta.get("loopbridge.random_weights") == "true"
        self.sha256 = file_sha256(self.path)
        self.id = f"{self.name}:{self.sha256[:16]}"
        unknown = set(self._inputs) - {*features.FUSION_INPUTS, "waveform"}
        if unknown:
            raise EncoderError(f"{self.path} is not a loopbridge encoder (unexpected inputs {sorted(unknown)})")
        self.quantization = meta.get("loopbridge.quantization", "none")
        if (
            self.quantization == "int8-dynamic-u8s8"
            and self.provider == "CPUExecutionProvider"
            and not cpu.has_int8_dot()
        ):
            log.warning(
                "encoder %s was quantised for CPUs with VNNI (u8s8); this CPU lacks it, so its int8 products "
                "saturate: re-export with `loopbridge encoder export --int8` here, or use the fp32 encoder.",
                self.path,
            )
        if self.random_weights:
            log.warning(
                "WARNING: encoder %s was exported from RANDOM weights (a test checkpoint); its embeddings "
                "mean nothing musically.",
                self.path,
            )

    def _open_openvino(self) -> engines.OpenVinoEngine | None:
        """OpenVINO when asked for; a graph it cannot compile falls back to ONNX Runtime with a warning. Chosen by
        `auto`, an int8 graph goes to ONNX Runtime, whose int8 kernels are the ones measured and chosen per CPU."""
        threads, precision = int(os.environ.get("LOOPBRIDGE_THREADS", "0")), engines.openvino_precision()
        try:
            return engines.OpenVinoEngine(self.path, threads, precision, quantised_ok=engines.requested() != "auto")
        except engines.QuantisedGraph:
            return None
        except Exception as exc:
            log.warning("OpenVINO could not run %s (%s); using ONNX Runtime", self.path, exc)
            return None

    @classmethod
    def open(cls, name_or_path: str | None = None) -> Encoder:
        return cls(resolve(name_or_path))

    @property
    def input_names(self) -> tuple[str, ...]:
        """What the graph reads; `prepare_inputs(samples, input_names)` needs no session (scale-out CPU tasks)."""
        return tuple(self._inputs)

    def prepare(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        """One 48 kHz mono clip → the inputs this graph reads (done off the inference thread by callers)."""
        return prepare_inputs(samples, self._inputs)

    def embed_prepared(self, prepared: list[dict[str, np.ndarray]]) -> np.ndarray:
        return self.embed_inputs({k: np.stack([p[k] for p in prepared]) for k in self._inputs})

    def embed_inputs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: inputs[k] for k in self._inputs}
        if self._openvino is not None:
            return self._openvino.run(feed)
        return np.asarray(self.session.run([self._output], feed)[0], dtype=np.float32)

    def embed_clips(self, clips: list[Clip]) -> np.ndarray:
        return self.embed_prepared([self.prepare(c.samples) for c in clips])

    def warm_up(self) -> None:
        """Run one short and one long clip so the first real take is as fast as the tenth."""
        silence = np.zeros(features.SAMPLE_RATE, dtype=np.float32)
        long = np.zeros(features.CLIP_SAMPLES + 20 * features.HOP, dtype=np.float32)
        self.embed_prepared([self.prepare(silence), self.prepare(long)])
