"""The report's figure functions and HTML page, from plain arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers_report import parse_report
from matplotlib.colors import to_hex
from sklearn.decomposition import PCA

from loopbridge.errors import LoopbridgeError
from loopbridge.export import report


@pytest.fixture
def view() -> report.HeadView:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(60, 8)) * np.linspace(3, 0.5, 8)
    latent[:6] += 6.0
    scores = (latent**2).sum(axis=1)
    train = np.sort((rng.normal(size=(200, 8)) ** 2).sum(axis=1) * 4)
    return report.HeadView("aewres", "aewres", latent, "latent", scores, float(np.quantile(train, 0.95)), train)


def test_pca_axes_name_explained_variance(view: report.HeadView) -> None:
    fig = report.pca_figure(view.latent, view.flagged, latent_name="latent")
    ax = fig.axes[0]
    ratio = PCA(2).fit(view.latent).explained_variance_ratio_
    assert ax.get_xlabel() == f"PC1 ({ratio[0]:.1%} of latent variance)"
    assert ax.get_ylabel() == f"PC2 ({ratio[1]:.1%} of latent variance)"
    normal, anomalous = ax.collections
    assert len(anomalous.get_offsets()) == int(view.flagged.sum()) > 0
    assert to_hex(anomalous.get_facecolor()[0]) == report.ANOMALOUS_COLOUR
    assert len(normal.get_offsets()) + len(anomalous.get_offsets()) == len(view.scores)


def test_histogram_overlays_training_validation_and_data_with_log_counts_and_dashed_threshold(
    view: report.HeadView,
) -> None:
    rng = np.random.default_rng(1)
    validation = np.sort((rng.normal(size=(50, 8)) ** 2).sum(axis=1) * 6)  # held out: higher than in-sample
    fig = report.histogram_figure(
        view.train_scores,
        validation,
        view.threshold,
        data_scores=view.scores,
        data_label="evaluated",
        validation_label="validation (held out)",
    )
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    (line,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert line.get_xdata()[0] == pytest.approx(view.threshold)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["training (in-sample) (200)", "validation (held out) (50)", "evaluated (60)"]
    train_bars, validation_bars = ax.containers
    (outline,) = [p for p in ax.patches if p.get_label().startswith("evaluated")]
    assert not outline.get_fill()  # the data is an outline over the two filled series, which stay readable
    assert sum(b.get_height() for b in train_bars) == 200
    assert sum(b.get_height() for b in validation_bars) == 50
    assert to_hex(train_bars[0].get_facecolor()) != to_hex(validation_bars[0].get_facecolor())
    edges = np.array([b.get_x() for b in train_bars])
    np.testing.assert_allclose(edges, [b.get_x() for b in validation_bars])  # shared bins: the shift is visible


def test_histogram_of_a_head_without_held_out_scores_shows_training_and_data(view: report.HeadView) -> None:
    fig = report.histogram_figure(view.train_scores, None, view.threshold, data_scores=view.scores)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["training (in-sample) (200)", "data (60)", f"threshold {view.threshold:.4g}"]


def test_density_draws_one_kde_per_dimension_and_picks_the_liveliest() -> None:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(40, 50)) * 0.01
    latent[:, [3, 17, 40]] *= 100  # the three dimensions with most variance
    latent[:, 5] = 0.25  # a dead unit: drawn as a vertical line, not a crashed KDE
    fig = report.density_figure(latent, max_dims=3)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3
    assert "3 of 50 dims" in ax.get_title()
    fig = report.density_figure(latent[:, :8])
    assert len(fig.axes[0].get_lines()) == 8
    assert fig.axes[0].get_xlabel() == "latent value"


def test_heatmap_sorts_by_score_and_marks_threshold(view: report.HeadView) -> None:
    fig = report.heatmap_figure(view.latent, view.scores, view.threshold)
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    assert image.shape == view.latent.shape
    np.testing.assert_allclose(image[0], view.latent[np.argmax(view.scores)])
    (line,) = ax.get_lines()
    assert line.get_ydata()[0] == pytest.approx(view.flagged.sum() - 0.5)


def test_boxplot_puts_heads_on_one_threshold_scale() -> None:
    fig = report.boxplot_figure({"a": np.array([1.0, 2, 4]), "b": np.array([100.0, 300, 900])}, {"a": 1.0, "b": 100.0})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "score ÷ threshold"
    medians = [ln.get_ydata()[0] for ln in ax.get_lines() if to_hex(ln.get_color()) == to_hex("C1")]
    assert medians == [2.0, 3.0]
    (threshold,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert threshold.get_ydata()[0] == 1.0


def test_page_embeds_every_figure_and_the_top_table(tmp_path: Path, view: report.HeadView) -> None:
    other = report.HeadView(
        "knn", "knn", view.latent[:, :4], "embedding", view.scores[::-1].copy(), 50.0, view.train_scores
    )
    files = [f"loops/take_{i:02d}.wav" for i in range(60)]
    page = report.render_html("Report", "meta", [view, other], files, primary="aewres")
    out = report.write_report(tmp_path / "rep", page)
    parsed = parse_report(out.read_text())
    assert parsed.images_per_head == {
        "aewres": ["pca", "density", "heatmap", "histogram"],
        "knn": ["pca", "density", "heatmap", "histogram"],
    }
    assert parsed.summary_images == 1
    assert all(src.startswith("data:image/png;base64,iVBOR") for src in parsed.sources)
    assert len(parsed.top_rows) == 20
    expected = [files[i] for i in np.argsort(view.scores)[::-1][:20]]
    assert [row[1] for row in parsed.top_rows] == expected
    assert parsed.top_rows[0][2] == f"{view.scores.max():.4g}"


def test_existing_report_is_never_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    report.write_report(out, "<html>one</html>")
    with pytest.raises(LoopbridgeError, match="already exists"):
        report.write_report(out, "<html>two</html>")
    assert (out / "index.html").read_text() == "<html>one</html>"
    report.write_report(out, "<html>two</html>", force=True)
    assert (out / "index.html").read_text() == "<html>two</html>"
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "notes.txt"]
