"""One contract for every head, scikit-learn / PyOD style, so fit, report, evaluate and the bundle treat them alike.

`fit(X)` learns from normal embeddings only; `decision_function(X)` is higher for more unusual rows (PyOD's
name and sign; scikit-learn's `score_samples` is the opposite sign, so the name is not borrowed);
`threshold_` is a quantile of the training library's held-out scores (kept sorted, so `set_quantile`
needs no retraining); `predict(X)` is 1 where the score is above the threshold; `to_onnx()` gives a graph that maps
`embedding` float32 [B, D] to `score` float32 [B] by itself.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from loopbridge.bundle import DEFAULT_QUANTILE, HeadSpec, check_embeddings, threshold_at

if TYPE_CHECKING:
    from .fit import FitOptions

OPSET = 17
IR_VERSION = 8  # what opset 17 needs; newer onnx writes versions older runtimes refuse


HELD_OUT = "held-out"  # what FitOptions asks for; a fitted head records how it got its held-out scores
IN_SAMPLE = "in-sample"
BASES = (HELD_OUT, IN_SAMPLE)


class NotFittedError(ValueError, AttributeError):
    """A head used before `fit` (the same bases as scikit-learn's, so callers catching either still work)."""


class Detector(ABC):
    """Subclasses implement `_fit`, `_score` and `_graph`, and may override `_held_out_scores`.

    Fitted state lives in attributes ending in `_` (scikit-learn's convention); scoring, predicting,
    re-thresholding and exporting an unfitted head raise `NotFittedError` instead of an AttributeError deep inside.

    `training_scores_` (sorted) are what `threshold_` is a quantile of: the training library's scores
    computed on rows the model was not fitted on (`threshold_basis_` says how: "held-out", "leave-one-out",
    "out-of-fold"), because in-sample scores are biased low and a threshold from them flags too many new
    normal loops. `in_sample_scores_` and `validation_scores_` (the held-out ones; None if the head has
    none) are kept for the report. `basis="in-sample"` thresholds on in-sample scores, as the paper does.
    """

    kind = "detector"
    out_of_fold = False  # True: held-out scores from 5-fold out-of-fold fits (see _out_of_fold_scores)

    def __init__(self, quantile: float = DEFAULT_QUANTILE, basis: str = HELD_OUT) -> None:
        if basis not in BASES:
            raise ValueError(f"threshold basis must be one of {', '.join(BASES)}, got '{basis}'")
        self.quantile = quantile
        self.basis = basis
        self.metrics: dict[str, Any] = {}

    @classmethod
    def from_options(
        cls, opts: FitOptions, params: dict[str, Any], progress: Callable[..., None] | None = None
    ) -> Detector:
        """The head as `fit` builds it: its registry parameters plus fit's shared quantile and basis.
        Heads that also take the seed or a training configuration override this."""
        return cls(quantile=opts.quantile, basis=opts.threshold_basis, **params)

    def describe(self) -> str:
        """One line on what was learnt, for fit's summary (from `metrics`)."""
        return ", ".join(
            f"{k.replace('_', ' ')} {v:.4g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
            for k, v in self.metrics.items()
        )

    def fit(self, X: np.ndarray) -> Detector:
        X = check_embeddings(X, what="training embeddings")
        if X.shape[0] < 2:
            raise ValueError("need at least 2 training embeddings")
        self.dim_ = X.shape[1]
        self.n_training_ = X.shape[0]
        self._fit(X)
        in_sample = np.asarray(self._in_sample_scores(X), dtype=np.float64)
        self.in_sample_scores_ = np.sort(in_sample)
        held = self._held_out_scores(X)
        validation = None if held is None else np.sort(np.asarray(held[0], dtype=np.float64))
        self.validation_scores_ = validation
        if self.basis == IN_SAMPLE or held is None or validation is None:
            self.training_scores_, self.threshold_basis_ = self.in_sample_scores_, IN_SAMPLE
            rows = in_sample
        else:
            self.training_scores_, self.threshold_basis_ = validation, held[1]
            rows = np.asarray(held[0], dtype=np.float64)
        # the threshold's scores in training-row order, when there is one per row (fit's false-flag budget pairs
        # them with each loop's checks); None when they cover only a split
        self.row_scores_ = rows if len(rows) == len(X) else None
        self.threshold_ = threshold_at(self.training_scores_, self.quantile)
        return self

    def check_is_fitted(self) -> None:
        """Raise NotFittedError unless `fit` has run (`threshold_` is the last thing it sets)."""
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) first")

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score per row, higher = more abnormal (PyOD's contract)."""
        self.check_is_fitted()
        return np.asarray(self._score(check_embeddings(X, self.dim_)), dtype=np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > self.threshold_).astype(int)

    def set_quantile(self, quantile: float) -> float:
        self.check_is_fitted()
        self.threshold_ = threshold_at(self.training_scores_, quantile)
        self.quantile = quantile
        return self.threshold_

    def set_threshold(self, threshold: float, quantile: float) -> None:
        """A threshold chosen outside the head (fit's false-flag budget), with the quantile of `training_scores_`
        it stands at, so a later `set_quantile` speaks the same units."""
        self.check_is_fitted()
        self.threshold_, self.quantile = float(threshold), float(quantile)

    def _in_sample_scores(self, X: np.ndarray) -> np.ndarray:
        """Scores of the rows the final model was fitted on."""
        return np.asarray(self._score(X), dtype=np.float64)

    def _held_out_scores(self, X: np.ndarray) -> tuple[np.ndarray, str] | None:
        """Every training row (or a held-out subset) scored by a model fitted without it, and how."""
        if self.out_of_fold:
            scores = self._out_of_fold_scores(X)
            return None if scores is None else (scores, "out-of-fold")
        return None

    def _out_of_fold_scores(self, X: np.ndarray, folds: int = 5) -> np.ndarray | None:
        """Each training row scored by the model fitted without it: in-sample scores of a model that
        memorises (PCA, Mahalanobis with few loops in many dimensions) are biased low, and so would be
        the threshold. None when there are too few rows to leave some out."""
        if len(X) < 2 * folds:
            return None
        clone = copy.copy(self)
        scores = np.empty(len(X))
        for held in np.array_split(np.random.default_rng(0).permutation(len(X)), folds):
            keep = np.ones(len(X), bool)
            keep[held] = False
            clone._fit(X[keep])
            scores[held] = clone._score(X[held])
        return scores

    def to_onnx(self) -> onnx.ModelProto:
        self.check_is_fitted()
        model = self._graph()
        onnx.checker.check_model(model)
        return model

    def spec(self, name: str) -> HeadSpec:
        self.check_is_fitted()
        return HeadSpec(
            name,
            self.kind,
            self.threshold_,
            self.quantile,
            self.training_scores_,
            threshold_basis=self.threshold_basis_,
            training_size=self.n_training_,
            in_sample_scores=self.in_sample_scores_,
            validation_scores=self.validation_scores_,
            metrics=self.metrics,
        )

    @abstractmethod
    def _fit(self, X: np.ndarray) -> None:
        """Learn the model's fitted attributes (ending in `_`) from normal rows X."""

    @abstractmethod
    def _score(self, X: np.ndarray) -> np.ndarray:
        """Scores of validated rows X, higher = more abnormal."""

    @abstractmethod
    def _graph(self) -> onnx.ModelProto:
        """The ONNX graph `embedding` [B, D] -> `score` [B] of the fitted model."""


def const(name: str, value: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(value), name)


def score_model(nodes: list, initializers: list, dim: int, doc: str, opset: int = OPSET) -> onnx.ModelProto:
    """Wrap nodes that read `embedding` [B, dim] and write `score` [B] into a checked model."""
    graph = helper.make_graph(
        nodes,
        "loopbridge_head",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])],
        initializer=initializers,
        doc_string=doc,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="loopbridge")
    model.ir_version = IR_VERSION
    return model
