"""Persistent embedding cache: refitting a library re-embeds only new or changed files.

Keyed by the file's content hash and the encoder id (preset + ONNX hash), so a renamed file is a hit and
an edited file or a different encoder is a miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths
from .hashing import file_sha256


@dataclass(frozen=True)
class CacheEntry:
    vector: np.ndarray
    duration_s: float


class EmbeddingCache:
    def __init__(self, encoder_id: str, root: Path | None = None) -> None:
        safe = encoder_id.replace(":", "-").replace("/", "_")
        self.folder = (root or paths.embedding_cache_dir()) / safe
        self._hashes: dict[tuple[str, int, int], str] = {}
        self.hits = 0
        self.misses = 0

    def _entry_path(self, path: Path) -> Path:
        st = path.stat()
        memo = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if memo not in self._hashes:
            self._hashes[memo] = file_sha256(path)
        return self.folder / f"{self._hashes[memo]}.npz"

    def lookup(self, path: Path) -> CacheEntry | None:
        entry = self._entry_path(Path(path))
        try:
            with np.load(entry) as z:
                found = CacheEntry(z["vector"].astype(np.float32), float(z["duration_s"]))
        except (OSError, KeyError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return found

    def store(self, path: Path, vector: np.ndarray, duration_s: float) -> None:
        vector = np.asarray(vector, dtype=np.float32)
        paths.write_atomically(
            self._entry_path(Path(path)), lambda f: np.savez(f, vector=vector, duration_s=duration_s)
        )
