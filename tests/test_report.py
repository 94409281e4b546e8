"""`loopbridge report` on a small fitted model: one page, every head's figures, the top-20 table."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pytest
from helpers_report import Fitted, parse_report, shared_small_model

from loopbridge import heads_registry
from loopbridge.bundle import Bundle
from loopbridge.cli import main
from loopbridge.export.report import bundle_embeddings, head_latents, head_views

FIGURES = ["pca", "density", "heatmap", "histogram"]


@pytest.fixture
def fitted(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Fitted:
    model = shared_small_model(tmp_path_factory)
    monkeypatch.setenv("LOOPBRIDGE_HOME", str(model.home))
    return model


@pytest.mark.slow
def test_report_page_has_every_figure_per_head_and_top_files(
    fitted: Fitted, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "rep"
    assert main(["report", "--model", fitted.model, "--data", str(fitted.data), "--out", str(out)]) == 0
    assert "→" in capsys.readouterr().out
    text = (out / "index.html").read_text()
    page = parse_report(text)
    heads = list(heads_registry.HEADS)
    assert page.images_per_head == {h: FIGURES for h in heads}
    assert all(html.escape(heads_registry.get(h).summary) in text for h in heads)  # each section says what it is
    assert page.summary_images == 1
    assert all(src.startswith("data:image/png;base64,") and len(src) > 2000 for src in page.sources)
    assert len(page.top_rows) == 20
    # ranked by the primary head, highest first; every head has a score column
    column = 2 + heads.index(Bundle.load(fitted.model).primary)
    primary = [float(r[column]) for r in page.top_rows]
    assert primary == sorted(primary, reverse=True)
    assert all(len(r) == 2 + len(heads) for r in page.top_rows)
    # gross defects (clipping) rank above most clean loops under some head: the table is not arbitrary
    assert any(Path(r[1]).name.startswith(("clipping", "dropout", "hiss")) for r in page.top_rows[:10])


@pytest.mark.slow
def test_svdd_latents_come_from_the_onnx_head(fitted: Fitted) -> None:
    bundle = Bundle.load(fitted.model)
    X = np.random.default_rng(0).normal(size=(6, bundle.dim)).astype(np.float32)
    z = head_latents(bundle, "aewres", X)
    assert z.shape == (6, 8)  # the latent size of --hidden 32,16,8
    assert np.std(z, axis=0).min() > 0  # distinct inputs, distinct latents (not collapsed)
    assert head_latents(bundle, "knn", X) is None  # baselines plot the embeddings instead
    views = {v.name: v for v in head_views(bundle, X)}
    assert views["knn"].latent_name == "embedding"
    assert views["knn"].latent.shape == X.shape
    # the histograms get in-sample and held-out training scores, and say which one the threshold comes from
    # (30 training loops: the SVDD validation split is too small, so every loop is scored out of fold)
    assert {h: v.threshold_basis for h, v in views.items()} == {
        "aewres": "out-of-fold",
        "ae": "out-of-fold",
        "iforest": "in-sample",
        "pca": "out-of-fold",
        "knn": "leave-one-out",
        "mahalanobis": "out-of-fold",
    }
    assert len(views["aewres"].validation_scores) == 30
    assert len(views["aewres"].train_scores) == 24
    np.testing.assert_array_equal(views["aewres"].validation_scores, bundle.training_scores["aewres"])
    assert views["iforest"].validation_scores is None
    assert len(views["iforest"].train_scores) == 30


@pytest.mark.slow
def test_saved_embeddings_give_the_same_rows_as_audio(fitted: Fitted, tmp_path: Path) -> None:
    npz = tmp_path / "data.npz"
    assert main(["embed", str(fitted.data), "--encoder", "mel-stats", "--out", str(npz)]) == 0
    bundle = Bundle.load(fitted.model)
    saved, saved_label = bundle_embeddings(bundle, None, npz, progress=False)
    audio, audio_label = bundle_embeddings(bundle, [str(fitted.data)], None, progress=False)
    assert (saved_label, audio_label) == ("data.npz", "data")
    assert saved.files == audio.files
    assert len(saved) == 28
    np.testing.assert_allclose(saved.vectors, audio.vectors, rtol=1e-6)


@pytest.mark.slow
def test_report_refuses_existing_page_and_bad_input(
    fitted: Fitted, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "index.html").write_text("my own page")
    assert main(["report", "--model", fitted.model, "--data", str(fitted.data), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "my own page"

    assert main(["report", "--model", "nope", "--data", str(fitted.data), "--out", str(tmp_path / "r2")]) == 2
    assert "no model 'nope'" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", "--model", fitted.model, "--data", str(empty), "--out", str(tmp_path / "r3")]) == 2
    assert "no audio files found" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((5, 3), np.float32))
    assert main(["report", "--model", fitted.model, "--embeddings", str(wrong), "--out", str(tmp_path / "r4")]) == 2
    assert "dimension 3" in capsys.readouterr().err
    assert not (tmp_path / "r4").exists()
