"""Export a CLAP audio tower to one ONNX graph that the runtime runs like every other encoder.

laion-clap's forward branches on data (`if longer.sum() == 0`, index selection of the long rows),
which an exporter either refuses or bakes in for the example batch. `ExportGraph` runs the same
laion-clap modules without those branches: the fused map is computed for every row and picked per
row with `torch.where`. Three more changes, each measured in ../shared/notes/encoder-export.md and
checked against the unmodified forward in tests/test_clap_export.py:
  * `window_reverse` computes the batch size as a Python int, which freezes the example's batch into
    Reshape constants; a `-1` batch is used while exporting.
  * The shifted-window mask value −100 makes exp() denormal and the attention matmuls several times
    slower in ONNX Runtime; −1e4 gives the same softmax without denormals.
  * ONNX Runtime's cubic Resize (1001→1024 frames) costs ~20 ms per clip; torch's bicubic
    (align_corners) weights as one constant matrix applied with a matmul cost ~1 ms.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from loopbridge import cpu
from loopbridge.features import CHUNK_FRAMES, CLIP_SAMPLES, N_MELS

from .checkpoint import Checkpoint, load_audio_branch, read_checkpoint
from .clap import AudioBranch, htsat_module

log = logging.getLogger(__name__)

OPSET = 17
MASK_VALUE = -1e4


def _batch_agnostic_window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:
    x = windows.view(-1, H // window_size, W // window_size, window_size, window_size, windows.shape[-1])
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, windows.shape[-1])


@contextlib.contextmanager
def exportable_htsat() -> Iterator[None]:
    """laion-clap's htsat module with `window_reverse` batch-agnostic, for tracing."""
    module = htsat_module()
    original = module.window_reverse  # type: ignore[attr-defined]
    module.window_reverse = _batch_agnostic_window_reverse  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.window_reverse = original  # type: ignore[attr-defined]


def bicubic_time_matrix(in_frames: int, out_frames: int) -> torch.Tensor:
    """(out, in): torch's bicubic align_corners resize along time as a matrix."""
    eye = torch.eye(in_frames, dtype=torch.float64)[None, None]
    return F.interpolate(eye, size=(out_frames, in_frames), mode="bicubic", align_corners=True)[0, 0].float()


class ExportGraph(nn.Module):
    """The audio tower with the runtime's inputs: (`mel_fusion`, `longer`) fused, `waveform` not."""

    def __init__(self, tower: AudioBranch) -> None:
        super().__init__()
        self.fusion = tower.enable_fusion
        self.project = tower.has_projection
        self.htsat = copy.deepcopy(tower.audio_branch).eval()
        self.projection = tower.audio_projection
        for block in self.htsat.modules():
            mask = getattr(block, "attn_mask", None)
            if isinstance(mask, torch.Tensor):
                block.attn_mask = torch.where(mask < 0, torch.tensor(MASK_VALUE), torch.tensor(0.0))
        target = self.htsat.spec_size * self.htsat.freq_ratio
        self.register_buffer("time_resize", bicubic_time_matrix(CHUNK_FRAMES, target), persistent=False)

    def _spectrogram_image(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, C, 1001, 64) log-mel → (B, C, 256, 256) HTS-AT image, as HTSAT's forward up to patch embed."""
        x = self.htsat.bn0(mel.transpose(1, 3)).transpose(1, 3)
        time_resize = self.get_buffer("time_resize")
        return self.htsat.reshape_wav2img(torch.matmul(time_resize, x))  # time already 1024: no interpolate

    def _patches(self, image: torch.Tensor, longer: torch.Tensor | None) -> torch.Tensor:
        embed = self.htsat.patch_embed
        x = embed.proj(image[:, 0:1])
        if longer is not None:
            local = image[:, 1:].reshape(-1, 1, image.shape[2], image.shape[3])
            local = embed.mel_conv2d(local)
            local = local.view(image.shape[0], 3, local.shape[1], local.shape[2], local.shape[3])
            local = local.permute(0, 2, 3, 1, 4).flatten(3)
            width = x.shape[-1]  # 3 chunks side by side are 3× wider than needed: crop as PatchEmbed does
            local = local[..., :width] if local.shape[-1] >= width else F.pad(local, (0, width - local.shape[-1]))
            fused = embed.fusion_model(x, local)
            x = torch.where(longer.view(-1, 1, 1, 1), fused, x)
        return embed.norm(x.flatten(2).transpose(1, 2))

    def _embedding(self, image: torch.Tensor, longer: torch.Tensor | None) -> torch.Tensor:
        x = self._patches(image, longer)
        for layer in self.htsat.layers:
            x, _ = layer(x)
        return self.htsat.norm(x).mean(dim=1)  # = forward_features' avgpool over all tokens

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.fusion:
            mel_fusion, longer = inputs
            embedding = self._embedding(self._spectrogram_image(mel_fusion), longer)
        else:
            (waveform,) = inputs
            mel = self.htsat.logmel_extractor(self.htsat.spectrogram_extractor(waveform))
            embedding = self._embedding(self._spectrogram_image(mel), None)
        if not self.project:
            return (embedding,)
        return embedding, F.normalize(self.projection(embedding), dim=-1)

    def input_names(self) -> list[str]:
        return ["mel_fusion", "longer"] if self.fusion else ["waveform"]

    def output_names(self) -> list[str]:
        return ["embedding", "clap_embedding"] if self.project else ["embedding"]

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        # batch 2 so AFF's `if batch == 1: duplicate` branch is not the one traced (it is a no-op in eval)
        if self.fusion:
            return torch.randn(batch, 4, CHUNK_FRAMES, N_MELS), torch.tensor([True, False][:batch])
        return (torch.randn(batch, CLIP_SAMPLES) * 0.1,)


@contextlib.contextmanager
def warnings_silenced() -> Iterator[None]:
    """The TorchScript exporter warns about every traced shape computation; none of them matter here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


INT8_NOT_FASTER = (
    "int8 is not written on this CPU: without VNNI/AMX, ONNX Runtime's int8 kernels are no faster than fp32 "
    "(measured on an AMD EPYC with AVX2 only: 240 vs 236 ms per clip), so the fp32 encoder is the one to use"
)


def int8_pays_off() -> bool:
    """Whether an int8 encoder is worth having here: only CPUs with int8 dot products (VNNI/AMX, ARM) run it faster."""
    return cpu.has_int8_dot()


def default_int8_kernel() -> str:
    """u8s8 (signed weights) where the CPU has VNNI/AMX or is ARM; u8u8 on AVX2-only x86, whose u8s8 kernel
    saturates 16-bit pair sums (embedding cosine to fp32 fell to 0.997 on an AMD EPYC) while u8u8 is exact."""
    return "u8s8" if cpu.has_int8_dot() else "u8u8"


def export_tower(
    tower: AudioBranch,
    out: str | Path,
    *,
    checkpoint_sha256: str,
    random_weights: bool,
    int8: bool = False,
    int8_kernel: str | None = None,
) -> Path:
    """Write the ONNX encoder graph atomically, with the metadata the runtime reads.

    `int8_kernel` ("u8s8" or "u8u8") defaults to what suits this machine's CPU (`default_int8_kernel`)."""
    import onnx

    int8_kernel = int8_kernel or default_int8_kernel()
    if int8_kernel not in ("u8s8", "u8u8"):
        raise ValueError(f"int8_kernel must be u8s8 or u8u8, not {int8_kernel!r}")

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = ExportGraph(tower).eval()
    names = graph.input_names() + graph.output_names()
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        with exportable_htsat(), torch.no_grad(), warnings_silenced():
            torch.onnx.export(
                graph,
                graph.example_inputs(),
                str(fp32),
                input_names=graph.input_names(),
                output_names=graph.output_names(),
                dynamic_axes={name: {0: "batch"} for name in names},
                opset_version=OPSET,
                dynamo=False,
            )
        final = Path(tmp) / "final.onnx"
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            weights = QuantType.QInt8 if int8_kernel == "u8s8" else QuantType.QUInt8
            quantize_dynamic(fp32, final, weight_type=weights, per_channel=True)
        else:
            fp32.replace(final)
        model = onnx.load(str(final))
        metadata = {
            "loopbridge.preset": tower.preset,
            "loopbridge.checkpoint_sha256": checkpoint_sha256,
            "loopbridge.random_weights": "true" if random_weights else "false",
            "loopbridge.quantization": f"int8-dynamic-{int8_kernel}" if int8 else "none",
        }
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, metadata)
        onnx.save(model, str(final))
        os.replace(final, out)
    return out


def export_checkpoint(checkpoint_path: str | Path, preset: str, out: str | Path, *, int8: bool = False) -> Path:
    """Checkpoint file → ONNX encoder for `preset`. Loud when the checkpoint holds random test weights."""
    checkpoint: Checkpoint = read_checkpoint(checkpoint_path)
    if checkpoint.random_weights:
        log.warning("WARNING: %s holds RANDOM test weights; its embeddings mean nothing", checkpoint_path)
    tower = load_audio_branch(checkpoint, preset, str(checkpoint_path))
    return export_tower(
        tower, out, checkpoint_sha256=checkpoint.sha256, random_weights=checkpoint.random_weights, int8=int8
    )
