"""Offline-safe access to laion-clap's HTS-AT audio branch.

`import laion_clap` runs its `training/data.py`, which downloads three text tokenizers at import
time and hangs or fails without internet. The audio branch needs none of that: we register the
`laion_clap` and `laion_clap.clap_module` packages without running their `__init__` files and
import only `htsat` (and what it imports itself). If the user already imported laion_clap fully,
that module is reused as is.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Architecture:
    """How laion-clap builds a preset's audio branch."""

    model_config: str  # file name stem in laion_clap/clap_module/model_configs
    enable_fusion: bool
    fusion_type: str


ARCHITECTURES: dict[str, Architecture] = {
    "clap-htsat-fused": Architecture("HTSAT-tiny", True, "aff_2d"),
    "clap-htsat-music": Architecture("HTSAT-base", False, "None"),
}

JOINT_EMBED_DIM = 512  # CLAP's shared audio/text space (model.py: joint_embed_shape)


def _package_without_init(name: str) -> ModuleType:
    """Register a package so its submodules can be imported, without executing its __init__.py."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not installed: pip install 'loopbridge[torch]'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def htsat_module() -> ModuleType:
    """laion_clap.clap_module.htsat, imported without touching the network."""
    _package_without_init("laion_clap")
    _package_without_init("laion_clap.clap_module")
    return importlib.import_module("laion_clap.clap_module.htsat")


def model_config(preset: str) -> dict[str, Any]:
    """laion-clap's own JSON config for the preset's architecture (embed_dim, audio_cfg)."""
    arch = architecture(preset)
    spec = importlib.util.find_spec("laion_clap")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    root = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((root / "clap_module" / "model_configs" / f"{arch.model_config}.json").read_text())


def architecture(preset: str) -> Architecture:
    try:
        return ARCHITECTURES[preset]
    except KeyError:
        raise ValueError(f"unknown CLAP preset {preset!r}; choose one of {', '.join(ARCHITECTURES)}") from None


class AudioBranch(nn.Module):
    """laion-clap's audio tower as CLAP holds it: `audio_branch` (HTS-AT) and `audio_projection`.

    Building the whole `CLAP` model would download RoBERTa for the text tower, so only these two
    children are built; their names match the checkpoint keys.
    """

    def __init__(self, preset: str) -> None:
        super().__init__()
        arch = architecture(preset)
        cfg = model_config(preset)
        self.preset = preset
        self.audio_cfg = cfg["audio_cfg"]
        self.embed_dim = int(cfg["embed_dim"])
        self.enable_fusion = arch.enable_fusion
        audio_cfg = SimpleNamespace(**self.audio_cfg)
        self.audio_branch = htsat_module().create_htsat_model(audio_cfg, arch.enable_fusion, arch.fusion_type)
        # Same layout as CLAP.audio_projection in laion_clap/clap_module/model.py (mlp_act='relu').
        self.audio_projection = nn.Sequential(
            nn.Linear(self.embed_dim, JOINT_EMBED_DIM), nn.ReLU(), nn.Linear(JOINT_EMBED_DIM, JOINT_EMBED_DIM)
        )
        self.has_projection = False  # set by the checkpoint loader when the weights include it
        self.eval()

    @torch.no_grad()
    def reference_embedding(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """laion-clap's unmodified forward (`CLAP.encode_audio(...)["embedding"]`): the parity reference."""
        return self.audio_branch({k: v.clone() for k, v in inputs.items()}, mixup_lambda=None, device="cpu")[
            "embedding"
        ]
