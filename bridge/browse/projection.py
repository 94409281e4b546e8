"""Embeddings → 2-D map coordinates, and nearest library loops. PCA by default; UMAP where umap-learn is installed.

The map is fitted once on the library (or on the takes when no library is known) and new takes (uploads) are
placed with the same fitted transform, so points never jump when a file is dropped on the page.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from ..errors import LoopbridgeError

METHODS = ("pca", "umap")


class Projection:
    """A fitted 2-D map: `transform` places any embedding of the same encoder."""

    def __init__(self, X: np.ndarray, method: str = "pca", seed: int = 0) -> None:
        if method not in METHODS:
            raise LoopbridgeError(f"map method must be one of {', '.join(METHODS)}, got '{method}'", "usage")
        if method == "umap" and importlib.util.find_spec("umap") is None:
            raise LoopbridgeError('the UMAP map needs umap-learn: pip install "loopbridge[browse]" umap-learn', "usage")
        self.method = method
        X = np.asarray(X, dtype=np.float64)
        self.mean = X.mean(axis=0)
        centred = X - self.mean
        # principal axes from the SVD; a library of one loop (or identical loops) maps to the origin
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        self.axes = np.zeros((2, X.shape[1]))
        self.axes[: min(2, len(vt))] = vt[:2]
        self._umap: Any = None
        if method == "umap":
            import umap  # optional; checked above

            self._umap = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, max(2, len(X) - 1)))
            self._umap.fit(X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self._umap is not None:
            return np.asarray(self._umap.transform(X), dtype=np.float64)
        return (X - self.mean) @ self.axes.T


def nearest(query: np.ndarray, library: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """(library row, cosine distance) of the k loops closest to `query`, closest first (the knn head's measure)."""
    if not len(library):
        return []
    L = np.asarray(library, np.float64)
    q = np.asarray(query, np.float64)
    d = 1.0 - (L @ q) / np.maximum(np.linalg.norm(L, axis=1) * np.linalg.norm(q), 1e-12)
    order = np.argsort(d, kind="stable")[:k]
    return [(int(i), float(d[i])) for i in order]
