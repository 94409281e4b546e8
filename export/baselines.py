"""Shallow heads on the same embeddings: the paper's baselines and the field's baselines to beat.

How each ONNX graph computes its score:
- Isolation Forest: one ONNX-ML TreeEnsembleRegressor written from the fitted trees; each leaf holds
  −ln 2 · (its depth + c(its training rows)) / (trees · c(max_samples)), c the average path length of an unsuccessful
  search, so Exp of the sum is 2^(−mean path length / c(max_samples)) = −score_samples. Thresholds are rounded down
  to float32, which keeps every float32 input on the branch scikit-learn takes. It opens in milliseconds (the
  skl2onnx graph took seconds).
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
from scipy.linalg import solve_triangular
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from loopbridge.bundle import DEFAULT_QUANTILE

from .detector import HELD_OUT, Detector, const, score_model

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
        forest = self.model_
        scale = -np.log(2.0) / (len(forest.estimators_) * _average_path_length(forest.max_samples_))
        attrs: dict[str, Any] = {key: [] for key in _TREE_ATTRIBUTES}
        for t, (est, features) in enumerate(zip(forest.estimators_, forest.estimators_features_, strict=True)):
            tree = est.tree_
            leaf = tree.children_left == -1
            depth = _node_depths(tree.children_left, tree.children_right)
            thresholds = tree.threshold.astype(np.float32)
            thresholds[thresholds > tree.threshold] = np.nextafter(thresholds, -np.inf)[thresholds > tree.threshold]
            ids = np.arange(tree.node_count)
            attrs["nodes_treeids"] += [t] * tree.node_count
            attrs["nodes_nodeids"] += ids.tolist()
            attrs["nodes_featureids"] += np.where(leaf, 0, np.asarray(features)[np.maximum(tree.feature, 0)]).tolist()
            attrs["nodes_values"] += np.where(leaf, 0.0, thresholds).tolist()
            attrs["nodes_modes"] += ["LEAF" if is_leaf else "BRANCH_LEQ" for is_leaf in leaf]
            attrs["nodes_truenodeids"] += np.maximum(tree.children_left, 0).tolist()
            attrs["nodes_falsenodeids"] += np.maximum(tree.children_right, 0).tolist()
            path = depth[leaf] + _average_path_length(tree.n_node_samples[leaf])
            attrs["target_treeids"] += [t] * int(leaf.sum())
            attrs["target_nodeids"] += ids[leaf].tolist()
            attrs["target_ids"] += [0] * int(leaf.sum())
            attrs["target_weights"] += (scale * path).tolist()
        nodes = [
            helper.make_node(
                "TreeEnsembleRegressor",
                ["embedding"],
                ["log2_score"],
                domain="ai.onnx.ml",
                n_targets=1,
                aggregate_function="SUM",
                post_transform="NONE",
                **attrs,
            ),
            helper.make_node("Exp", ["log2_score"], ["score_column"]),
            helper.make_node("Reshape", ["score_column", "flat"], ["score"]),
        ]
        model = score_model(
            nodes,
            [const("flat", np.array([-1], np.int64))],
            self.dim_,
            f"Isolation Forest ({len(forest.estimators_)} trees): 2^(-mean path length / c(max_samples))",
        )
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
        return model


_TREE_ATTRIBUTES = (
    *("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes"),
    *("nodes_truenodeids", "nodes_falsenodeids", "target_treeids", "target_nodeids", "target_ids", "target_weights"),
)


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Edges from the root to each node (scikit-learn numbers a parent before its children)."""
    depth = np.zeros(len(left), np.int64)
    for node in range(len(left)):
        if left[node] != -1:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return depth


def _average_path_length(n: np.ndarray | int) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n rows (Liu et al. 2008),
    what an isolation tree adds for a leaf that still holds n training rows."""
    n = np.asarray(n, np.float64)
    harmonic = np.log(np.maximum(n - 1.0, 1.0)) + np.euler_gamma
    return np.where(n <= 1.0, 0.0, np.where(n <= 2.0, 1.0, 2.0 * harmonic - 2.0 * (n - 1.0) / n))


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
        cov = LedoitWolf(store_precision=False).fit(X.astype(np.float64))  # no pinvh: an eigh per fold
        self.mean_ = cov.location_
        # covariance = C Cᵀ, so C⁻ᵀ whitens: ‖(x − μ) C⁻ᵀ‖² = (x − μ)ᵀ covariance⁻¹ (x − μ). Shrinkage keeps it
        # positive definite, and a triangular solve is a tenth of the eigendecomposition's time at 1024-d.
        chol = np.linalg.cholesky(cov.covariance_)
        self.whitener_ = solve_triangular(chol, np.eye(len(chol)), lower=True).T
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
