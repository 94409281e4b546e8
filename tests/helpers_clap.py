"""Random-weight CLAP checkpoints in the real file format, and laion-clap's feature code without its tokenizers."""

from __future__ import annotations

import importlib.util
import math
import sys
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import NamedTuple
from unittest import mock

import torch
from torch import nn

from loopbridge.export.checkpoint import RANDOM_WEIGHTS_KEY
from loopbridge.export.clap import AudioBranch

# A few text-tower keys as real checkpoints carry them; the loader must ignore them.
TEXT_KEYS = {
    "text_branch.embeddings.word_embeddings.weight": (50, 8),
    "text_branch.embeddings.position_ids": (1, 77),
    "text_projection.0.weight": (512, 768),
    "logit_scale_a": (),
    "logit_scale_t": (),
}


@torch.no_grad()
def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """O(1)-gain random weights: HTS-AT's own init (std 0.02) makes residual branches so small that
    export bugs (e.g. a frozen batch size) hide at the 1e-3 level; these weights make them obvious."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)) and module.weight.requires_grad:
            fan_in = module.weight[0].numel()
            module.weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)
            if module.bias is not None:
                module.bias.normal_(0.0, 0.1, generator=gen)
        elif isinstance(module, nn.LayerNorm):
            module.weight.normal_(1.0, 0.2, generator=gen)
            module.bias.normal_(0.0, 0.2, generator=gen)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            n = module.num_features
            module.running_mean.normal_(0.0, 0.5, generator=gen)
            module.running_var.uniform_(0.5, 2.0, generator=gen)
            module.weight.normal_(1.0, 0.2, generator=gen)
            module.bias.normal_(0.0, 0.2, generator=gen)
            assert module.running_mean.numel() == n
        table = getattr(module, "relative_position_bias_table", None)
        if isinstance(table, nn.Parameter):
            table.normal_(0.0, 0.5, generator=gen)
    return model


def random_tower(preset: str, seed: int = 0) -> AudioBranch:
    tower = randomize(AudioBranch(preset), seed)
    tower.has_projection = True
    return tower.eval()


def save_checkpoint(tower: AudioBranch, path: Path, *, drop: str | None = None, reshape: str | None = None) -> Path:
    """torch.save({"state_dict": {"module." + key: tensor}}) as laion-clap's DDP training writes it,
    text-tower keys included; `drop` removes one audio key, `reshape` corrupts one's shape."""
    state = {f"module.{k}": v.clone() for k, v in tower.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    state.update({f"module.{k}": torch.randn(shape, generator=gen) for k, shape in TEXT_KEYS.items()})
    if drop:
        del state[f"module.{drop}"]
    if reshape:
        state[f"module.{reshape}"] = torch.zeros(3, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 1, "state_dict": state, RANDOM_WEIGHTS_KEY: True}, path)
    return path


def laion_data_module() -> ModuleType:
    """laion_clap/training/data.py (home of `get_audio_features`), loaded with its three module-level
    tokenizer downloads answered by a stand-in: the feature code never touches them."""
    name = "loopbridge_test_laion_data"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("laion_clap")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    root = Path(next(iter(spec.submodule_search_locations)))
    if str(root) not in sys.path:
        sys.path.append(str(root))  # data.py imports `clap_module` top-level, as laion_clap/__init__ arranges
    file_spec = importlib.util.spec_from_file_location(name, root / "training" / "data.py")
    module = importlib.util.module_from_spec(file_spec)
    tokenizers = [f"transformers.{t}.from_pretrained" for t in ("BertTokenizer", "RobertaTokenizer", "BartTokenizer")]
    with mock.patch(tokenizers[0]), mock.patch(tokenizers[1]), mock.patch(tokenizers[2]):
        file_spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


class Artifacts(NamedTuple):
    tower: AudioBranch  # the random-weight model the checkpoint was saved from (the PyTorch reference)
    checkpoint: Path  # real-format .pt file
    onnx: Path  # exported from the checkpoint file by loopbridge.export


_WORKDIR = tempfile.TemporaryDirectory(prefix="loopbridge-clap-tests-")


@cache
def exported(preset: str) -> Artifacts:
    """Build, save and export a preset once per test session; several test modules share it."""
    from loopbridge.export.encoder_export import export_checkpoint

    root = Path(_WORKDIR.name) / preset
    tower = random_tower(preset)
    checkpoint = save_checkpoint(tower, root / "random.pt")
    return Artifacts(tower, checkpoint, export_checkpoint(checkpoint, preset, root / f"{preset}.onnx"))
