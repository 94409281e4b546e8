"""Where loopbridge keeps what it makes: encoders and checkpoints in the cache, model bundles in user data.

`LOOPBRIDGE_HOME` puts both under one folder (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

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
