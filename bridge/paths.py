"""Where loopbridge keeps what it makes: encoders and checkpoints in the cache, model bundles in user data.

`LOOPBRIDGE_HOME` puts both under one folder (tests, portable installs).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import platformdirs

APP = "loopbridge"


def _home() -> Path | None:
    home = os.environ.get("LOOPBRIDGE_HOME")
    return Path(home).expanduser() if home else None


def cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP))


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP))


def encoders_dir() -> Path:
    return cache_dir() / "encoders"


def checkpoints_dir() -> Path:
    return cache_dir() / "checkpoints"


def models_dir() -> Path:
    return data_dir() / "models"


def embedding_cache_dir() -> Path:
    return cache_dir() / "embeddings"


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Readers (another process, a crash) see the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        write(f)
    os.replace(tmp, path)
