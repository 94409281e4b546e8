"""Model bundles: ONNX round-trip, sensitivity without retraining, atomic write, no silent overwrite, clear refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers_heads import DIM, gross_outliers, normal_embeddings, tiny_fit_options

from loopbridge.bundle import FORMAT, MANIFEST, Bundle, EncoderRef, Manifest, list_bundles, make_manifest, write_bundle
from loopbridge.errors import ModelError
from loopbridge.export.fit import fit_heads, save_bundle

TRAIN = normal_embeddings(120, seed=1)
X = np.vstack([normal_embeddings(20, seed=2), gross_outliers(5)])
REF = EncoderRef("mel-stats", "ab" * 32, "mel-stats:abababababababab", DIM)


@pytest.fixture(scope="module")
def detectors():
    return fit_heads(TRAIN, tiny_fit_options())


@pytest.fixture
def saved(detectors, lb_home: Path):
    from loopbridge import paths

    return save_bundle(paths.models_dir() / "mylib", "mylib", detectors, REF, {"files": len(TRAIN)})


def test_round_trip_scores_match_the_trained_heads(detectors, saved):
    bundle = Bundle.load("mylib")
    assert bundle.path == saved
    assert bundle.primary == "knn"
    assert bundle.dim == DIM
    assert set(bundle.heads) == set(detectors)
    scores = bundle.scores(X)
    for head, det in detectors.items():
        rtol = 1e-5 if head in ("ae", "aewres") else 1e-4
        np.testing.assert_allclose(scores[head], det.decision_function(X), rtol=rtol, atol=1e-7)
        assert bundle.thresholds[head] == pytest.approx(det.threshold_)
        np.testing.assert_allclose(bundle.training_scores[head], det.training_scores_)
        np.testing.assert_allclose(bundle.in_sample_scores[head], det.in_sample_scores_)
        if det.validation_scores_ is None:
            assert bundle.validation_scores[head] is None
        else:
            np.testing.assert_allclose(bundle.validation_scores[head], det.validation_scores_)
        assert bundle.threshold_basis[head] == det.threshold_basis_


def test_manifest_records_what_the_runtime_and_report_need(detectors, saved):
    m = json.loads((saved / MANIFEST).read_text())
    assert m["name"] == "mylib"
    assert m["loopbridge_version"]
    assert m["created"]
    assert m["encoder"] == {"preset": "mel-stats", "sha256": "ab" * 32, "id": "mel-stats:abababababababab"}
    assert m["embedding_dim"] == DIM
    assert m["primary_head"] == "knn"
    for head, spec in m["heads"].items():
        assert (saved / spec["file"]).is_file()
        assert spec["kind"] == head
        assert spec["quantile"] == 0.95
        assert spec["training_size"] == len(TRAIN)
        assert spec["score_quantiles"]["0.95"] == pytest.approx(spec["threshold"])
        assert spec["metrics"], head
    assert m["heads"]["pca"]["metrics"]["explained_variance"] >= 0.95
    # thresholds from scores of loops each head was not fitted on, where it has them; the paper's in-sample
    # scores and the held-out ones are stored for the report's training/validation histograms
    bases = {h: spec["threshold_basis"] for h, spec in m["heads"].items()}
    assert bases == {
        "aewres": "held-out",
        "ae": "held-out",
        "iforest": "in-sample",
        "pca": "out-of-fold",
        "knn": "leave-one-out",
        "mahalanobis": "out-of-fold",
    }
    svdd = m["heads"]["aewres"]  # 120 loops: 24 held out from training
    assert svdd["threshold_scores"] == 24 == len(np.load(saved / svdd["validation_scores_file"]))
    assert len(np.load(saved / svdd["in_sample_scores_file"])) == 96
    assert m["heads"]["iforest"]["validation_scores_file"] is None
    assert m["heads"]["knn"]["threshold_scores"] == len(TRAIN)


def test_sensitivity_changes_thresholds_without_retraining(saved):
    bundle = Bundle.load(saved)
    before = bundle.scores(X)
    t = bundle.set_quantile(0.5)
    assert t == pytest.approx(np.quantile(bundle.training_scores[bundle.primary], 0.5))  # the primary head's
    assert all(bundle.quantiles[h] == 0.5 for h in bundle.heads)
    knn_only = bundle.set_quantile(0.99, head="knn")
    assert knn_only == pytest.approx(np.quantile(bundle.training_scores["knn"], 0.99))
    assert bundle.quantiles["pca"] == 0.5
    np.testing.assert_array_equal(bundle.scores(X)["aewres"], before["aewres"])
    with pytest.raises(ModelError, match="between 0 and 1"):
        bundle.set_quantile(95)
    with pytest.raises(ModelError, match="no head 'svm'"):
        bundle.set_quantile(0.9, head="svm")


def test_existing_bundle_is_never_overwritten_without_force(detectors, saved):
    manifest = (saved / MANIFEST).read_text()
    with pytest.raises(ModelError, match=r"already exists.*--force"):
        save_bundle(saved, "mylib", detectors, REF, {"files": 1})
    assert (saved / MANIFEST).read_text() == manifest
    save_bundle(saved, "mylib", {"pca": detectors["pca"]}, REF, {"files": 1}, force=True)
    assert Bundle.load(saved).heads == ["pca"]
    assert Bundle.load(saved).primary == "pca"
    assert [p.name for p in saved.parent.iterdir()] == ["mylib"]  # no temporary or old folders left


def test_failed_write_leaves_no_bundle_and_keeps_the_old_one(detectors, saved):
    spec = detectors["pca"].spec("pca")
    manifest = make_manifest("mylib", REF, [spec], "pca", {})
    broken_graphs: dict[str, bytes] = {}  # writing the head's ONNX fails halfway through the folder
    with pytest.raises(KeyError):
        write_bundle(saved.parent / "fresh", manifest, broken_graphs, [spec])
    assert not (saved.parent / "fresh").exists()
    with pytest.raises(KeyError):
        write_bundle(saved, manifest, broken_graphs, [spec], force=True)
    assert set(Bundle.load(saved).heads) == set(detectors)  # the old bundle is untouched
    assert sorted(p.name for p in saved.parent.iterdir()) == ["mylib"]


def test_scores_refuse_wrong_dimension_and_nan(saved):
    bundle = Bundle.load(saved)
    with pytest.raises(ModelError, match=f"dimension 8, the model expects {DIM}"):
        bundle.scores(X[:, :8])
    bad = X.copy()
    bad[3] = np.nan
    with pytest.raises(ModelError, match=r"NaN or infinite.*rows 3"):
        bundle.scores(bad)


def test_unknown_and_damaged_bundles_give_clear_errors(saved):
    with pytest.raises(ModelError, match=r"no model 'nope'.*known models: mylib"):
        Bundle.load("nope")
    (saved / "knn.onnx").unlink()
    with pytest.raises(ModelError, match=r"missing knn\.onnx"):
        Bundle.load("mylib")
    (saved / MANIFEST).write_text("{ not json")
    with pytest.raises(ModelError, match="damaged"):
        Bundle.load(saved)


def test_list_bundles_names_every_model_folder(detectors, saved):
    save_bundle(saved.parent / "other", "other", {"pca": detectors["pca"]}, REF, {})
    (saved.parent / "not-a-model").mkdir()
    assert [name for name, _ in list_bundles()] == ["mylib", "other"]


def test_a_format_1_bundle_keeps_loading_as_the_per_head_rule(detectors, saved, tmp_path):
    """Bundles written before the typed manifest (format 1: no "decision") load, migrated, with their thresholds."""
    old = tmp_path / "old"
    shutil.copytree(saved, old)
    m = json.loads((old / MANIFEST).read_text())
    del m["decision"]
    m["format"] = 1
    (old / MANIFEST).write_text(json.dumps(m, indent=2))
    bundle = Bundle.load(old)
    assert bundle.decision == {"rule": "per-head", "quantile": 0.95, "head": "knn"}
    assert bundle.thresholds == {h: spec["threshold"] for h, spec in m["heads"].items()}
    assert bundle.manifest.heads["pca"].metrics == m["heads"]["pca"]["metrics"]
    odd = gross_outliers(5)
    np.testing.assert_allclose(bundle.scores(odd)["knn"], detectors["knn"].decision_function(odd), rtol=1e-4)


def test_the_typed_manifest_round_trips_and_refuses_newer_formats(saved):
    raw = json.loads((saved / MANIFEST).read_text())
    assert raw["format"] == FORMAT
    assert Manifest.from_json(raw).to_json() == raw
    (saved / MANIFEST).write_text(json.dumps({**raw, "format": FORMAT + 1}))
    with pytest.raises(ModelError, match=f"bundle format {FORMAT + 1}; this loopbridge reads formats 1 to {FORMAT}"):
        Bundle.load(saved)
