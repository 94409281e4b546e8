"""`loopbridge evaluate` on a small fitted model and a generated labelled set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers_report import Fitted, shared_small_model

from loopbridge.bundle import Bundle
from loopbridge.cli import main
from loopbridge.export.evaluate import read_labels, score_labelled

HEADS = ["aewres", "ae", "iforest", "pca", "knn", "mahalanobis"]
SOURCES = [*HEADS, "checks", "combined"]


@pytest.fixture
def fitted(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Fitted:
    model = shared_small_model(tmp_path_factory)
    monkeypatch.setenv("LOOPBRIDGE_HOME", str(model.home))
    return model


def _metrics(capsys: pytest.CaptureFixture) -> dict[tuple[str, str], dict]:
    out = json.loads(capsys.readouterr().out)
    return {(m["source"], m["kind"]): m for m in out["metrics"]}


@pytest.mark.slow
def test_evaluate_breaks_down_by_head_and_defect(fitted: Fitted, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--model", fitted.model, "--labels", str(fitted.labels), "--json", "--no-progress"]) == 0
    by = _metrics(capsys)
    for head in SOURCES:
        assert {k for s, k in by if s == head} == {"clipping", "dropout", "hiss", "all"}
        assert by[head, "all"]["n_normal"] == 16
        assert by[head, "hiss"]["n_defect"] == 4
    # broadband hiss is gross in a log-mel: the distance baselines must rank every hissy loop above the clean ones
    assert by["knn", "hiss"]["auroc"] >= 0.9
    assert by["mahalanobis", "hiss"]["auroc"] >= 0.9
    assert 0.5 <= by["knn", "hiss"]["pauc"] <= 1.0
    # clipping is what the raw-signal checks exist for; the combined decision keeps that
    assert by["checks", "clipping"]["auroc"] >= 0.95
    assert by["combined", "clipping"]["auroc"] >= 0.95
    assert by["combined", "clipping"]["detected"] == 1.0

    assert main(["evaluate", "--model", fitted.model, "--labels", str(fitted.labels), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "16 normal, 12 anomalous, 0 skipped" in text
    auroc_header = next(line for line in text.splitlines() if line.startswith("AUROC"))
    assert auroc_header.split()[1:] == SOURCES
    assert f"combined = {Bundle.load(fitted.model).primary} or checks" in text
    hiss_row = next(line for line in text.splitlines() if line.startswith("hiss (4)"))
    assert hiss_row.split()[2 + HEADS.index("knn")] == f"{by['knn', 'hiss']['auroc']:.3f}"


@pytest.mark.slow
def test_combined_decision_is_head_or_checks(fitted: Fitted) -> None:
    bundle = Bundle.load(fitted.model)
    labels = read_labels(fitted.labels)
    scored = score_labelled(bundle, labels, head="knn", progress=False)
    f, s = scored.flags, scored.scores
    np.testing.assert_array_equal(f["combined"], f["knn"] | f["checks"])
    np.testing.assert_array_equal(f["knn"], s["knn"] > bundle.thresholds["knn"])
    # the combined score crosses 0 exactly where the decision flags, so its ranking matches the decision
    np.testing.assert_array_equal(s["combined"] > 0, f["combined"])
    np.testing.assert_array_equal(s["checks"] > 0, f["checks"])
    assert f["checks"].any()
    assert (~f["combined"]).any()


@pytest.mark.slow
def test_unreadable_labelled_file_is_skipped_and_named(
    fitted: Fitted, tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    shutil.copytree(fitted.data, data)
    (data / "hiss_000.wav").write_bytes(b"not audio at all")
    assert main(["evaluate", "--model", fitted.model, "--labels", str(data / "labels.csv"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 skipped" in out
    assert "hiss (3)" in out
    assert "hiss_000.wav: not a readable audio file" in caplog.text


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("name,kind\nclean_000.wav,0\n", "needs a header with columns file,label"),
        ("file,label\nclean_000.wav,0\nmissing.wav,click\n", "1 labelled file(s) not found: missing.wav"),
        ("file,label\nclean_000.wav,0\nclean_001.wav,0\n", "needs at least one normal (0) and one anomalous"),
    ],
)
def test_bad_label_files_are_clear_errors(
    fitted: Fitted, tmp_path: Path, capsys: pytest.CaptureFixture, csv: str, message: str
) -> None:
    labels = fitted.data / f"bad_{abs(hash(csv))}.csv"
    labels.write_text(csv)
    try:
        assert main(["evaluate", "--model", fitted.model, "--labels", str(labels)]) == 2
    finally:
        labels.unlink()
    err = capsys.readouterr().err
    assert err.startswith("loopbridge: error:")
    assert message in err
    assert "Traceback" not in err


def test_unknown_head_and_model(fitted: Fitted, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--model", fitted.model, "--labels", str(fitted.labels), "--head", "svm"]) == 2
    assert "has no head 'svm'" in capsys.readouterr().err
    assert main(["evaluate", "--model", "nope", "--labels", str(fitted.labels)]) == 2
    assert "no model 'nope'" in capsys.readouterr().err
