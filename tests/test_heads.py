"""Every head behind one detector contract: separates outliers, thresholds from held-out training scores, ONNX = numpy/torch."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from helpers_heads import gross_outliers, normal_embeddings, tiny_fit_options, tiny_svdd, wide_embeddings
from sklearn.metrics import roc_auc_score

from loopbridge.errors import ModelError
from loopbridge.export.baselines import IForestDetector
from loopbridge.export.detector import Detector, NotFittedError
from loopbridge.export.fit import HEADS, fit_heads, make_detector
from loopbridge.export.heads import MIN_HELD_OUT, DeepSVDDDetector

TRAIN = normal_embeddings(160, seed=1)
TEST_NORMAL = normal_embeddings(40, seed=2)
TEST_ODD = gross_outliers(40)


@pytest.fixture(scope="module")
def fitted():
    return fit_heads(TRAIN, tiny_fit_options(params={"knn": {"k": 3}}))


def onnx_scores(det, X: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(det.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(["score"], {"embedding": X})[0]
    assert out.shape == (len(X),)
    assert out.dtype == np.float32
    return out


@pytest.mark.parametrize("head", HEADS)
def test_head_separates_gross_outliers(fitted, head):
    det = fitted[head]
    scores = det.decision_function(np.vstack([TEST_NORMAL, TEST_ODD]))
    y = np.r_[np.zeros(len(TEST_NORMAL)), np.ones(len(TEST_ODD))]
    assert roc_auc_score(y, scores) > 0.95
    assert det.predict(TEST_ODD).mean() > 0.75
    assert det.predict(TEST_NORMAL).mean() < 0.3


@pytest.mark.parametrize("head", HEADS)
def test_threshold_is_training_quantile_and_sensitivity_needs_no_retraining(fitted, head):
    det = fitted[head]
    assert np.all(np.diff(det.training_scores_) >= 0)
    assert det.threshold_ == pytest.approx(np.quantile(det.training_scores_, 0.95))
    assert np.mean(det.training_scores_ > det.threshold_) == pytest.approx(0.05, abs=0.02)
    before = det.decision_function(TEST_NORMAL)
    strict = det.set_quantile(0.5)
    assert strict == pytest.approx(np.median(det.training_scores_))
    assert strict < np.quantile(det.training_scores_, 0.95)
    assert det.predict(TEST_NORMAL).sum() >= (before > np.quantile(det.training_scores_, 0.95)).sum()
    np.testing.assert_array_equal(det.decision_function(TEST_NORMAL), before)
    det.set_quantile(0.95)


@pytest.mark.parametrize("head", HEADS)
def test_onnx_graph_computes_the_same_score(fitted, head):
    det = fitted[head]
    X = np.vstack([TEST_NORMAL, TEST_ODD])
    rtol = 1e-5 if head in ("ae", "aewres") else 1e-4  # baselines: float32 graph vs float64 numpy
    np.testing.assert_allclose(onnx_scores(det, X), det.decision_function(X), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("head", ["ae", "aewres"])
def test_svdd_losses_decrease_and_latents_do_not_collapse(fitted, head):
    det = fitted[head]
    h = det.history_
    assert h["ae_train"][-1] < h["ae_train"][0]
    assert h["svdd_train"][-1] < h["svdd_train"][0]
    s = det.training_scores_
    assert s.std() > 0.05 * s.mean() > 0  # a collapsed sphere gives (nearly) equal scores
    assert len(np.unique(det.decision_function(TEST_NORMAL))) == len(TEST_NORMAL)
    assert np.abs(det.latent(TEST_NORMAL)).std(axis=0).min() > 0
    assert np.all(np.abs(det.c_.numpy()) >= det.config.eps)


def test_svdd_network_has_no_bias_and_no_batchnorm_shift(fitted):
    net = fitted["aewres"].net_
    names = [n for n, _ in net.named_parameters()]
    assert names
    assert not any("bias" in n for n in names)
    bns = [m for m in net.modules() if m.__class__.__name__ == "BatchNorm1d"]
    assert bns
    assert all(not bn.affine for bn in bns)


def test_aewres_decoder_adds_encoder_activations():
    import torch

    from loopbridge.export.heads import AutoEncoder

    cfg = tiny_svdd()
    x = torch.from_numpy(TRAIN[:8])
    plain, residual = AutoEncoder(x.shape[1], cfg, residual=False), AutoEncoder(x.shape[1], cfg, residual=True)
    residual.load_state_dict(plain.state_dict())
    plain.eval(), residual.eval()
    assert not torch.allclose(plain(x), residual(x))
    with torch.no_grad():  # zeroing every skip makes AEwRES the plain AE again
        residual.encoder.forward = lambda t: (plain.encoder(t)[0], [0 * s for s in plain.encoder(t)[1]])
        assert torch.allclose(plain(x), residual(x))


def test_seed_makes_svdd_reproducible():
    a = DeepSVDDDetector(config=tiny_svdd(seed=3, epochs=5)).fit(TRAIN).decision_function(TEST_NORMAL)
    b = DeepSVDDDetector(config=tiny_svdd(seed=3, epochs=5)).fit(TRAIN).decision_function(TEST_NORMAL)
    c = DeepSVDDDetector(config=tiny_svdd(seed=4, epochs=5)).fit(TRAIN).decision_function(TEST_NORMAL)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_early_stopping_restores_the_best_epoch():
    det = DeepSVDDDetector(config=tiny_svdd(epochs=400, patience=3, lr=3e-2, min_delta=0.0)).fit(TRAIN)
    for phase in ("ae", "svdd"):
        val = det.history_[f"{phase}_val"]
        assert len(val) < 400  # stopped early
        assert len(val) - 1 - int(np.argmin(val)) == 3  # exactly `patience` epochs without improvement
    assert det.metrics["val_loss_svdd"] == min(det.history_["svdd_val"])


def test_knn_training_scores_leave_each_row_out(fitted):
    # with itself as neighbour every training distance would be 0 and the threshold meaningless
    knn = fitted["knn"]
    assert knn.threshold_basis_ == "leave-one-out"
    assert knn.training_scores_.min() > 0
    assert np.all(knn.in_sample_scores_ < knn.training_scores_)  # kept for the report: each row its own neighbour


def test_each_head_records_its_threshold_basis(fitted):
    bases = {h: det.threshold_basis_ for h, det in fitted.items()}
    assert bases == {
        "aewres": "held-out",
        "ae": "held-out",
        "iforest": "in-sample",
        "pca": "out-of-fold",
        "knn": "leave-one-out",
        "mahalanobis": "out-of-fold",
    }
    svdd = fitted["aewres"]  # 160 loops: 32 held out for early stopping, 128 trained on
    assert len(svdd.training_scores_) == 32 == svdd.metrics["validation_size"]
    assert len(svdd.in_sample_scores_) == 128
    np.testing.assert_array_equal(svdd.training_scores_, svdd.validation_scores_)
    assert fitted["iforest"].validation_scores_ is None


@pytest.mark.parametrize("head", ["ae", "aewres"])
def test_svdd_held_out_threshold_flags_about_five_percent_of_new_normals(head):
    # 300 loops in 64 dimensions: the network fits its training rows better than new ones, so the paper's
    # in-sample q95 flags about a quarter of new normal rows; the validation split's q95 flags about 5 %
    # (60 validation scores: the 95th percentile itself varies by a few percent, hence the wide band)
    train, fresh = wide_embeddings(300, seed=3), wide_embeddings(1000, seed=4)
    config = tiny_svdd(epochs=40, hidden=(64, 32, 16))
    held = make_detector(head, tiny_fit_options(svdd=config, seed=3)).fit(train)
    paper = make_detector(head, tiny_fit_options(svdd=config, seed=3, threshold_basis="in-sample")).fit(train)
    assert held.threshold_basis_ == "held-out"
    assert len(held.training_scores_) == 60
    assert paper.threshold_basis_ == "in-sample"
    assert paper.threshold_ == pytest.approx(np.quantile(paper.in_sample_scores_, 0.95))
    np.testing.assert_array_equal(
        held.decision_function(fresh), paper.decision_function(fresh)
    )  # same network, other basis
    held_rate, paper_rate = held.predict(fresh).mean(), paper.predict(fresh).mean()
    assert 0.01 <= held_rate <= 0.12
    assert paper_rate > max(0.15, 2 * held_rate)


def test_svdd_small_library_is_scored_out_of_fold():
    # 40 loops hold out only 8 for early stopping: too few for a 95th percentile, so every loop is scored
    # by a network trained without it (the final network scores its own validation rows)
    train = normal_embeddings(40, seed=1)
    det = DeepSVDDDetector(config=tiny_svdd(epochs=15)).fit(train)
    val = det.folds_[0]
    assert len(val) == 8 < MIN_HELD_OUT
    assert det.threshold_basis_ == "out-of-fold"
    assert len(det.training_scores_) == 40
    assert len(det.in_sample_scores_) == 32
    np.testing.assert_array_equal(np.sort(np.concatenate(det.folds_)), np.arange(40))  # every loop exactly once
    assert set(det.decision_function(train[val])) <= set(det.training_scores_)
    assert det.predict(normal_embeddings(400, seed=2)).mean() < 0.15


def test_heads_trained_side_by_side_in_worker_processes_equal_a_sequential_fit(fitted):
    """`fit --jobs 2`: the torch heads train in spawned workers, the others here; same seed, same scores."""
    parallel = fit_heads(TRAIN, tiny_fit_options(params={"knn": {"k": 3}}, jobs=2))
    assert list(parallel) == list(HEADS)
    for head in HEADS:
        np.testing.assert_array_equal(
            parallel[head].decision_function(TEST_NORMAL), fitted[head].decision_function(TEST_NORMAL)
        )
        assert parallel[head].threshold_ == fitted[head].threshold_


def test_a_head_failing_in_a_worker_is_a_clear_error_naming_it():
    cfg = tiny_svdd(epochs=5, dropout=1.5)  # torch refuses a dropout probability over 1 when the net is built
    with pytest.raises(ModelError, match="head 'ae' could not be trained: dropout probability"):
        fit_heads(TRAIN, tiny_fit_options(heads=("pca", "ae"), svdd=cfg, jobs=2))


@pytest.mark.parametrize("rows", [1, 2])
def test_too_few_loops_is_a_clear_error(rows):
    with pytest.raises(ModelError, match="at least 3 loops"):
        fit_heads(TRAIN[:rows], tiny_fit_options())


def test_nan_embeddings_are_refused_with_the_rows_named():
    X = TRAIN.copy()
    X[7, 2] = np.nan
    with pytest.raises(ModelError, match=r"NaN.*rows 7"):
        fit_heads(X, tiny_fit_options(heads=("pca",)))


def test_mismatched_dimension_is_refused(fitted):
    with pytest.raises(ModelError, match="dimension"):
        fitted["pca"].decision_function(TEST_NORMAL[:, :8])


def test_every_head_name_builds_its_detector():
    kinds = {name: make_detector(name, tiny_fit_options()).kind for name in HEADS}
    assert kinds == {h: h for h in HEADS}


@pytest.mark.parametrize("head", ["pca", "mahalanobis"])
def test_thresholds_come_from_held_out_scores_so_fresh_normals_are_not_flagged(head):
    # 40 loops in 64 dimensions: in-sample scores are far lower than a new normal loop's (0.42 / 0.21 flagged)
    train, fresh = normal_embeddings(40, dim=64, seed=1), normal_embeddings(400, dim=64, seed=2)
    det = make_detector(head, tiny_fit_options()).fit(train)
    assert det.threshold_basis_ == "out-of-fold"
    assert len(det.training_scores_) == 40
    assert det.predict(fresh).mean() < 0.15


@pytest.mark.parametrize("head", HEADS)
def test_an_unfitted_head_refuses_to_score_or_export(head):
    det = make_detector(head, tiny_fit_options())
    for use in (lambda: det.decision_function(TEST_NORMAL), lambda: det.to_onnx(), lambda: det.set_quantile(0.9)):
        with pytest.raises(NotFittedError, match="not fitted"):
            use()


def test_the_detector_contract_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        Detector()  # type: ignore[abstract]


def test_min_delta_stops_once_improvements_are_negligible_and_restores_the_best_epoch():
    nets = {md: DeepSVDDDetector(config=tiny_svdd(epochs=300, min_delta=md)).fit(TRAIN) for md in (0.0, 0.02)}
    det = nets[0.02]
    for phase in ("ae", "svdd"):
        val = det.history_[f"{phase}_val"]
        assert len(val) < len(nets[0.0].history_[f"{phase}_val"])
        reference, since = np.inf, []  # the rule: patience counts epochs that beat the reference by < min_delta
        for v in val:
            reference, count = (v, 0) if v < reference * (1 - 0.02) else (reference, (since or [0])[-1] + 1)
            since.append(count)
        assert since[-1] == det.config.patience
        assert max(since[:-1]) < det.config.patience
    # the restored network is the best epoch's: its validation loss is the lowest seen, not the last one
    held_out = TRAIN[det.folds_[0]]
    assert det.decision_function(held_out).mean() == pytest.approx(min(det.history_["svdd_val"]), rel=1e-5)


def test_iforest_graph_is_one_tree_ensemble_with_sklearn_scores_even_on_split_thresholds():
    det = IForestDetector(n_estimators=20, seed=0).fit(TRAIN)
    model = det.to_onnx()
    assert [n.op_type for n in model.graph.node].count("TreeEnsembleRegressor") == 1
    # rows placed on the first tree's own split values (and one float32 step either side): float32 inputs must
    # take the branch scikit-learn takes with its float64 thresholds
    tree, features = det.model_.estimators_[0].tree_, det.model_.estimators_features_[0]
    splits = np.flatnonzero(tree.children_left != -1)[: len(TEST_NORMAL)]
    on_split = np.repeat(TEST_NORMAL[: len(splits)], 3, axis=0)
    t = tree.threshold[splits].astype(np.float32)
    for k, value in enumerate((np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf))):
        on_split[k::3][np.arange(len(splits)), np.asarray(features)[tree.feature[splits]]] = value
    X = np.vstack([TEST_NORMAL, TEST_ODD, on_split])
    expected = -det.model_.score_samples(X)
    np.testing.assert_allclose(onnx_scores(det, X), expected, rtol=1e-5, atol=1e-7)
