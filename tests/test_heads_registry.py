"""One registry of heads: the CLI, fit and the bundle read it; a new head is one entry plus one class."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from helpers_heads import DIM, gross_outliers, normal_embeddings, tiny_fit_options
from onnx import helper

from loopbridge import heads_registry
from loopbridge.bundle import Bundle, EncoderRef
from loopbridge.cli import build_parser
from loopbridge.errors import LoopbridgeError
from loopbridge.export.detector import Detector, const, score_model
from loopbridge.export.fit import fit_heads, make_detector, save_bundle
from loopbridge.heads_registry import HeadInfo, HeadOption

REF = EncoderRef("mel-stats", "ab" * 32, "mel-stats:abababababababab", DIM)


@pytest.mark.parametrize("name", heads_registry.HEADS)
def test_every_entry_loads_a_detector_of_its_kind(name):
    info = heads_registry.get(name)
    cls = info.load()
    assert issubclass(cls, Detector)
    assert make_detector(name, tiny_fit_options()).kind == name
    assert info.summary
    assert info.extra in ("torch", "heads")


def test_the_cli_takes_its_head_list_and_options_from_the_registry():
    args = build_parser().parse_args(["fit", "x", "--name", "m", "--knn-k", "4", "--pca-variance", "0.8"])
    assert args.heads == ",".join(heads_registry.HEADS)
    assert args.head_knn_k == 4
    assert args.head_pca_explained_variance == 0.8
    assert args.head_iforest_n_estimators == 100


def test_unknown_heads_are_named():
    with pytest.raises(LoopbridgeError, match=r"unknown head\(s\) svm; choose from aewres"):
        heads_registry.parse("knn,svm")
    assert heads_registry.parse(" KNN, pca ,knn") == ("knn", "pca")


class CentroidDetector(Detector):
    """The docs/heads.md example: squared distance to the training mean, scaled."""

    kind = "centroid"

    def __init__(self, scale: float = 1.0, **common) -> None:
        super().__init__(**common)
        self.scale = scale

    def _fit(self, X: np.ndarray) -> None:
        self.mean_ = X.astype(np.float64).mean(axis=0)
        self.metrics = {"scale": self.scale}

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.scale * ((X.astype(np.float64) - self.mean_) ** 2).sum(axis=1)

    def _graph(self) -> onnx.ModelProto:
        nodes = [
            helper.make_node("Sub", ["embedding", "mean"], ["centred"]),
            helper.make_node("ReduceSumSquare", ["centred"], ["sq"], axes=[1], keepdims=0),
            helper.make_node("Mul", ["sq", "scale"], ["score"]),
        ]
        inits = [const("mean", self.mean_.astype(np.float32)), const("scale", np.array(self.scale, np.float32))]
        return score_model(nodes, inits, self.dim_, "scaled squared distance to the training mean")


def test_a_new_head_is_one_registry_entry_and_one_class(monkeypatch, tmp_path: Path):
    entry = HeadInfo(
        "centroid",
        "test_heads_registry:CentroidDetector",
        "distance to the training mean",
        "heads",
        ("sklearn",),
        (HeadOption("--centroid-scale", "scale", float, 2.0, "score multiplier"),),
    )
    monkeypatch.setitem(heads_registry.REGISTRY, "centroid", entry)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    train = normal_embeddings(60, seed=1)
    fitted = fit_heads(train, tiny_fit_options(heads=("centroid", "knn")))
    assert fitted["centroid"].scale == 2.0  # the registry's default
    odd = fitted["centroid"].decision_function(gross_outliers(5))
    assert (odd > fitted["centroid"].threshold_).all()
    save_bundle(tmp_path / "b", "b", fitted, REF, {"files": 60})
    bundle = Bundle.load(tmp_path / "b")
    np.testing.assert_allclose(bundle.scores(train)["centroid"], fitted["centroid"].decision_function(train), rtol=1e-4)
    args = build_parser().parse_args(["fit", "x", "--name", "m", "--centroid-scale", "3"])
    assert args.head_centroid_scale == 3.0


def test_fitting_shallow_heads_never_imports_torch(tmp_path: Path):
    emb = tmp_path / "emb.npy"
    np.save(emb, normal_embeddings(30, seed=4))
    code = (
        "import sys\n"
        "from loopbridge.cli import main\n"
        f"rc = main(['fit', '--embeddings', {str(emb)!r}, '--name', 'm', '--out', {str(tmp_path / 'm')!r},"
        " '--heads', 'knn,pca,mahalanobis,iforest', '--no-progress'])\n"
        "assert rc == 0, rc\n"
        "print('torch' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"
    assert (tmp_path / "m" / "knn.onnx").is_file()
