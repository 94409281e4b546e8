"""Every anomaly head loopbridge can train, in one table: name → class, options, one-line summary, extra.

The CLI's option list, `fit`, the report and the tests read this table; it imports nothing heavy, so
`loopbridge fit --help` and a runtime-only install can list the heads without torch or scikit-learn.
Adding a head is one `HeadInfo` entry here and one `Detector` subclass (docs/heads.md shows how).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from . import extras
from .errors import LoopbridgeError


@dataclass(frozen=True)
class HeadOption:
    """One constructor keyword of a head that `loopbridge fit` exposes as a flag."""

    flag: str  # e.g. "--knn-k"
    param: str  # the detector's keyword, e.g. "k"
    type: type
    default: Any
    help: str = ""


@dataclass(frozen=True)
class HeadInfo:
    name: str
    target: str  # "module:Class" of its Detector subclass
    summary: str
    extra: str  # the extra (bridge/extras.py) to install for it; "heads" = scikit-learn, no torch
    modules: tuple[str, ...] | None = None  # the extra's modules it really imports (None: all of them)
    options: tuple[HeadOption, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)  # constructor keywords that tell two entries of a class apart

    def load(self) -> type:
        """The head's Detector class; a clear message naming the extra if its modules are missing."""
        extras.require(self.extra, f"the '{self.name}' head", self.modules)
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)

    def available(self) -> bool:
        return not extras.missing(self.extra, self.modules)

    def defaults(self) -> dict[str, Any]:
        return {**self.fixed, **{o.param: o.default for o in self.options}}


_SVDD = "loopbridge.export.heads:DeepSVDDDetector"
_BASE = "loopbridge.export.baselines"

REGISTRY: dict[str, HeadInfo] = {
    h.name: h
    for h in (
        HeadInfo(
            "aewres",
            _SVDD,
            "Deep SVDD pre-trained as an autoencoder with residual links (the paper's best head)",
            "torch",
            ("torch",),
            fixed={"residual": True},
        ),
        HeadInfo(
            "ae",
            _SVDD,
            "Deep SVDD pre-trained as a plain autoencoder (the paper's)",
            "torch",
            fixed={"residual": False},
        ),
        HeadInfo(
            "iforest",
            f"{_BASE}:IForestDetector",
            "Isolation Forest: how few random splits isolate the loop",
            "heads",
            ("sklearn",),
            (HeadOption("--iforest-trees", "n_estimators", int, 100, "trees in the Isolation Forest"),),
        ),
        HeadInfo(
            "pca",
            f"{_BASE}:PCADetector",
            "PCA reconstruction error (the paper's Algorithm 1)",
            "heads",
            ("sklearn",),
            (HeadOption("--pca-variance", "explained_variance", float, 0.95, "explained variance kept by PCA"),),
        ),
        HeadInfo(
            "knn",
            f"{_BASE}:KNNDetector",
            "mean cosine distance to the k nearest training loops (the field's baseline to beat)",
            "heads",
            ("sklearn",),
            (HeadOption("--knn-k", "k", int, 1, "neighbours averaged by the kNN head"),),
        ),
        HeadInfo(
            "mahalanobis",
            f"{_BASE}:MahalanobisDetector",
            "Mahalanobis distance under a Ledoit-Wolf shrinkage covariance",
            "heads",
            ("sklearn",),
        ),
    )
}
HEADS: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> HeadInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise LoopbridgeError(f"unknown head '{name}'; choose from {','.join(HEADS)}", "usage") from None


def parse(text: str) -> tuple[str, ...]:
    """A comma-separated --heads value → known head names, in order, without repeats."""
    names = tuple(dict.fromkeys(h.strip().lower() for h in text.split(",") if h.strip()))
    unknown = [h for h in names if h not in REGISTRY]
    if unknown or not names:
        raise LoopbridgeError(
            f"unknown head(s) {', '.join(unknown) or '(none given)'}; choose from {','.join(HEADS)}", "usage"
        )
    return names
