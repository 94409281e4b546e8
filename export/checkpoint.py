"""Load a LAION-CLAP checkpoint's audio-branch weights into `AudioBranch`.

Real checkpoints are torch-saved dicts whose `state_dict` keys carry a `module.` prefix (saved from
DistributedDataParallel) and hold the text tower too; we take only what the audio tower needs and
name the first key that is missing or has the wrong shape, since a silently half-loaded encoder
would give plausible-looking but meaningless embeddings.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import NamedTuple

import torch

from loopbridge.errors import EncoderError
from loopbridge.hashing import file_sha256

from .clap import AudioBranch

log = logging.getLogger(__name__)

AUDIO_PREFIXES = ("audio_branch.", "audio_projection.")
# Top-level key that loopbridge's test checkpoints carry, so an encoder exported from them says so.
RANDOM_WEIGHTS_KEY = "loopbridge_random_weights"


class Checkpoint(NamedTuple):
    state: dict[str, torch.Tensor]  # flat, `module.` prefix removed
    sha256: str
    random_weights: bool


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint's flat state dict with any `module.` prefix removed, and its file hash."""
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"{path}: checkpoint not found")
    try:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # laion-clap's own loader uses full pickle: training checkpoints may hold optimizer extras.
            log.warning("%s holds more than tensors; loading it with full pickle (use files you trust)", path)
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise EncoderError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise EncoderError(f"{path}: no state_dict in this checkpoint")
    random_weights = bool(checkpoint.get(RANDOM_WEIGHTS_KEY, False))
    return Checkpoint({k.removeprefix("module."): v for k, v in state.items()}, file_sha256(path), random_weights)


def audio_state(state: dict[str, torch.Tensor], model: AudioBranch, source: str) -> dict[str, torch.Tensor]:
    """The subset of `state` the model's audio tower needs, checked key by key against the model."""
    expected = model.state_dict()
    has_projection = any(k.startswith("audio_projection.") for k in state)
    needed = [k for k in expected if has_projection or not k.startswith("audio_projection.")]
    for key in needed:
        if key not in state:
            raise EncoderError(f"{source}: audio weight {key!r} is missing (not a {model.preset} checkpoint?)")
        if tuple(state[key].shape) != tuple(expected[key].shape):
            raise EncoderError(
                f"{source}: audio weight {key!r} has shape {tuple(state[key].shape)}, "
                f"{model.preset} needs {tuple(expected[key].shape)}"
            )
    extra = sorted(k for k in state if k.startswith(AUDIO_PREFIXES) and k not in expected)
    if extra:
        raise EncoderError(f"{source}: audio weight {extra[0]!r} does not exist in {model.preset} (wrong preset?)")
    return {k: state[k] for k in needed}


def load_audio_branch(checkpoint: Checkpoint, preset: str, source: str) -> AudioBranch:
    """Build the preset's audio tower from laion-clap's modules and load the checkpoint into it."""
    model = AudioBranch(preset)
    weights = audio_state(checkpoint.state, model, source)
    model.load_state_dict(weights, strict=False)
    model.has_projection = any(k.startswith("audio_projection.") for k in weights)
    return model.eval()
