"""Shallow heads on the same embeddings: the paper's baselines and the field's baselines to beat.

How each ONNX graph computes its score:
- Isolation Forest: skl2onnx's tree ensemble, then score = −(decision_function + offset_) = −score_samples.
- PCA (paper's Algorithm 1): squared reconstruction error ‖(x−μ)(I − WᵀW)‖² from the stored mean and axes.
- kNN: mean cosine distance to the k nearest stored (normalised) training rows, via MatMul + TopK.
- Mahalanobis: (x−μ)ᵀ P (x−μ) = ‖(x−μ) L‖² with P = L Lᵀ the inverse of a Ledoit–Wolf shrinkage covariance
  (the Cholesky form keeps float32 accurate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from loopbridge.bundle import DEFAULT_QUANTILE

from .detector import HELD_OUT, OPSET, Detector, const, score_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from .fit import FitOptions


class IForestDetector(Detector):
    kind = "iforest"

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: str | int = "auto",
        seed: int = 0,
        quantile: float = DEFAULT_QUANTILE,
        basis: str = HELD_OUT,
    ) -> None:
        super().__init__(quantile, basis)
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.seed = seed

    @classmethod
    def from_options(
        cls, opts: FitOptions, params: dict[str, Any], progress: Callable[..., None] | None = None
    ) -> IForestDetector:
        return cls(seed=opts.seed, quantile=opts.quantile, basis=opts.threshold_basis, **params)

    def describe(self) -> str:
        return f"{self.metrics['n_estimators']} trees"

    def _fit(self, X: np.ndarray) -> None:
        self.model_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.seed
        ).fit(X)
        self.metrics = {"n_estimators": self.n_estimators}

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(X)  # scikit-learn: higher = more normal

    def _graph(self) -> onnx.ModelProto:
        from skl2onnx import to_onnx

        model = to_onnx(self.model_, np.zeros((1, self.dim_), np.float32), target_opset={"": OPSET, "ai.onnx.ml": 3})
        g = model.graph
        old_input = g.input[0].name
        for node in g.node:
            node.input[:] = ["embedding" if i == old_input else i for i in node.input]
        g.input[0].name = "embedding"
        g.initializer.extend(
            [const("lb_offset", np.array(self.model_.offset_, np.float32)), const("lb_flat", np.array([-1], np.int64))]
        )
        g.node.extend(
            [
                helper.make_node("Add", ["scores", "lb_offset"], ["lb_shifted"]),
                helper.make_node("Neg", ["lb_shifted"], ["lb_neg"]),
                helper.make_node("Reshape", ["lb_neg", "lb_flat"], ["score"]),
            ]
        )
        del g.output[:]
        g.output.append(helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, ["batch"]))
        return model


class PCADetector(Detector):
    kind = "pca"
    out_of_fold = True

    def __init__(
        self, explained_variance: float = 0.95, quantile: float = DEFAULT_QUANTILE, basis: str = HELD_OUT
    ) -> None:
        super().__init__(quantile, basis)
        self.explained_variance = explained_variance

    def _fit(self, X: np.ndarray) -> None:
        n = min(X.shape) - 1
        pca = PCA(n_components=min(n, X.shape[1])).fit(X.astype(np.float64))
        keep = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), self.explained_variance) + 1)
        keep = min(keep, pca.components_.shape[0])
        self.mean_ = pca.mean_
        self.components_ = pca.components_[:keep]
        self.metrics = {
            "n_components": keep,
            "explained_variance": float(pca.explained_variance_ratio_[:keep].sum()),
        }

    def describe(self) -> str:
        return f"{self.metrics['n_components']} components, {self.metrics['explained_variance']:.1%} variance"

    def _residual_projector(self) -> np.ndarray:
        return np.eye(self.dim_) - self.components_.T @ self.components_

    def _score(self, X: np.ndarray) -> np.ndarray:
        r = (X.astype(np.float64) - self.mean_) @ self._residual_projector()
        return np.einsum("ij,ij->i", r, r)

    def _graph(self) -> onnx.ModelProto:
        nodes = [
            helper.make_node("Sub", ["embedding", "mean"], ["centred"]),
            helper.make_node("MatMul", ["centred", "projector"], ["residual"]),
            helper.make_node("ReduceSumSquare", ["residual"], ["score"], axes=[1], keepdims=0),
        ]
        inits = [
            const("mean", self.mean_.astype(np.float32)),
            const("projector", self._residual_projector().astype(np.float32)),
        ]
        return score_model(nodes, inits, self.dim_, "PCA squared reconstruction error")


class KNNDetector(Detector):
    """Mean cosine distance to the k nearest training rows; a training row is never its own neighbour."""

    kind = "knn"

    def __init__(self, k: int = 1, quantile: float = DEFAULT_QUANTILE, basis: str = HELD_OUT) -> None:
        super().__init__(quantile, basis)
        self.k = k

    @staticmethod
    def _unit(X: np.ndarray) -> np.ndarray:
        X = X.astype(np.float64)
        return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)

    def _fit(self, X: np.ndarray) -> None:
        if self.k >= X.shape[0]:
            raise ValueError(f"kNN needs more training rows than k={self.k} (got {X.shape[0]})")
        self.memory_ = self._unit(X)
        self.metrics = {"k": self.k, "memory_size": int(X.shape[0])}

    def describe(self) -> str:
        return f"k={self.k}, {self.metrics['memory_size']} loops in memory"

    def _held_out_scores(self, X: np.ndarray) -> tuple[np.ndarray, str]:
        """In-sample every row is its own nearest neighbour (score 0); leaving it out costs nothing."""
        dist = 1.0 - self.memory_ @ self.memory_.T
        np.fill_diagonal(dist, np.inf)
        return self._mean_k_smallest(dist), "leave-one-out"

    def _mean_k_smallest(self, dist: np.ndarray) -> np.ndarray:
        return np.sort(np.partition(dist, self.k - 1, axis=1)[:, : self.k], axis=1).mean(axis=1)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._mean_k_smallest(1.0 - self._unit(X) @ self.memory_.T)

    def _graph(self) -> onnx.ModelProto:
        nodes = [
            helper.make_node("ReduceL2", ["embedding"], ["norm"], axes=[1], keepdims=1),
            helper.make_node("Max", ["norm", "tiny"], ["safe_norm"]),
            helper.make_node("Div", ["embedding", "safe_norm"], ["unit"]),
            helper.make_node("MatMul", ["unit", "memory_t"], ["similarity"]),
            helper.make_node("Sub", ["one", "similarity"], ["distance"]),
            helper.make_node("TopK", ["distance", "k"], ["nearest", "nearest_index"], axis=1, largest=0),
            helper.make_node("ReduceMean", ["nearest"], ["score"], axes=[1], keepdims=0),
        ]
        inits = [
            const("tiny", np.array(1e-12, np.float32)),
            const("one", np.array(1.0, np.float32)),
            const("memory_t", self.memory_.T.astype(np.float32)),
            const("k", np.array([self.k], np.int64)),
        ]
        return score_model(nodes, inits, self.dim_, f"mean cosine distance to the {self.k} nearest training embeddings")


class MahalanobisDetector(Detector):
    kind = "mahalanobis"
    out_of_fold = True

    def _fit(self, X: np.ndarray) -> None:
        cov = LedoitWolf().fit(X.astype(np.float64))
        self.mean_ = cov.location_
        self.whitener_ = np.linalg.cholesky(cov.precision_)
        self.metrics = {"shrinkage": float(cov.shrinkage_)}

    def describe(self) -> str:
        return f"shrinkage {self.metrics['shrinkage']:.3f}"

    def _score(self, X: np.ndarray) -> np.ndarray:
        w = (X.astype(np.float64) - self.mean_) @ self.whitener_
        return np.einsum("ij,ij->i", w, w)

    def _graph(self) -> onnx.ModelProto:
        nodes = [
            helper.make_node("Sub", ["embedding", "mean"], ["centred"]),
            helper.make_node("MatMul", ["centred", "whitener"], ["whitened"]),
            helper.make_node("ReduceSumSquare", ["whitened"], ["score"], axes=[1], keepdims=0),
        ]
        inits = [const("mean", self.mean_.astype(np.float32)), const("whitener", self.whitener_.astype(np.float32))]
        return score_model(nodes, inits, self.dim_, "squared Mahalanobis distance, Ledoit-Wolf shrinkage covariance")
