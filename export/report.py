"""The paper's figures for every head of a bundle, as one self-contained HTML page.

Figure functions take arrays and return matplotlib figures, so they can be tested and reused;
`render_html` embeds them as base64 PNGs so the page can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy.stats import gaussian_kde
from sklearn.decomposition import PCA

from loopbridge import heads_registry
from loopbridge.errors import LoopbridgeError
from loopbridge.limits import MAX_SECONDS

if TYPE_CHECKING:
    from loopbridge.bundle import Bundle
    from loopbridge.embedding import Embeddings

log = logging.getLogger("loopbridge")

NORMAL_COLOUR = "#3b75af"
ANOMALOUS_COLOUR = "#d62728"
TOP_N = 20
MAX_DENSITY_DIMS = 32


def _figure(width: float = 5.2, colorbar: bool = False) -> tuple[Figure, plt.Axes]:
    """Fixed margins rather than a layout engine: the engine draws every figure twice (half the report's time)."""
    fig, ax = plt.subplots(figsize=(width, 4.4))
    fig.subplots_adjust(left=0.6 / width + 0.04, right=0.9 if colorbar else 0.97, bottom=0.12, top=0.92)
    return fig, ax


VALIDATION_LABELS = {  # threshold basis → what the held-out series is
    "held-out": "validation (held out)",
    "leave-one-out": "training, leave-one-out",
    "out-of-fold": "training, out-of-fold",
}


@dataclass(frozen=True)
class HeadView:
    """What the report shows of one head on one data set."""

    name: str
    kind: str
    latent: np.ndarray  # (N, d): the SVDD encoder's output, or the input embeddings for baselines
    latent_name: str  # "latent" or "embedding": what the axes call it
    scores: np.ndarray  # (N,) higher = more anomalous
    threshold: float
    train_scores: np.ndarray  # the bundle's in-sample training scores
    validation_scores: np.ndarray | None = None  # its held-out scores, if the head has them
    threshold_basis: str = "in-sample"  # which of the two the threshold is a quantile of

    @property
    def flagged(self) -> np.ndarray:
        return self.scores > self.threshold


def pca_figure(latent: np.ndarray, flagged: np.ndarray, title: str = "", latent_name: str = "latent") -> Figure:
    """2-D PCA of the latent; colour says which side of the threshold each sample lies."""
    n_comp = min(2, *latent.shape)
    pca = PCA(n_components=n_comp).fit(latent)
    xy = pca.transform(latent)
    if n_comp < 2:
        xy = np.column_stack([xy[:, 0] if n_comp else np.zeros(len(latent)), np.zeros(len(latent))])
    ratio = np.pad(pca.explained_variance_ratio_, (0, 2 - n_comp))
    fig, ax = _figure()
    for mask, colour, label in ((~flagged, NORMAL_COLOUR, "normal"), (flagged, ANOMALOUS_COLOUR, "anomalous")):
        ax.scatter(
            xy[mask, 0],
            xy[mask, 1],
            s=14,
            c=colour,
            alpha=0.75,
            label=f"{label} ({int(mask.sum())})",
            edgecolors="none",
        )
    ax.set_xlabel(f"PC1 ({ratio[0]:.1%} of {latent_name} variance)")
    ax.set_ylabel(f"PC2 ({ratio[1]:.1%} of {latent_name} variance)")
    ax.set_title(title or f"PCA of the {latent_name}")
    ax.legend(loc="best", fontsize=8)
    return fig


def _shown_dims(latent: np.ndarray, limit: int) -> np.ndarray:
    """The `limit` dimensions with the most variance, in their original order."""
    if latent.shape[1] <= limit:
        return np.arange(latent.shape[1])
    return np.sort(np.argsort(latent.var(axis=0))[::-1][:limit])


def density_figure(
    latent: np.ndarray, title: str = "", latent_name: str = "latent", max_dims: int = MAX_DENSITY_DIMS
) -> Figure:
    """One Gaussian KDE per latent dimension, overlaid: collapsed or dead units show as spikes."""
    dims = _shown_dims(latent, max_dims)
    lo, hi = float(latent[:, dims].min()), float(latent[:, dims].max())
    pad = 0.05 * (hi - lo) or 1.0
    grid = np.linspace(lo - pad, hi + pad, 256)
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(dims)))
    fig, ax = _figure(colorbar=True)
    for d, colour in zip(dims, colours, strict=False):
        x = latent[:, d]
        if x.std() < 1e-12 or len(x) < 3:  # a KDE needs spread; a constant unit is a vertical line
            ax.axvline(float(x.mean()), color=colour, lw=0.8, alpha=0.8)
            continue
        ax.plot(grid, gaussian_kde(x)(grid), color=colour, lw=0.9, alpha=0.8)
    ax.set_xlabel(f"{latent_name} value")
    ax.set_ylabel("density")
    what = (
        f"{len(dims)} of {latent.shape[1]} dims (most variance)"
        if len(dims) < latent.shape[1]
        else f"all {len(dims)} dims"
    )
    ax.set_title(title or f"Per-dimension density, {what}")
    sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, latent.shape[1] - 1))
    fig.colorbar(sm, ax=ax, label="dimension")
    return fig


def heatmap_figure(
    latent: np.ndarray, scores: np.ndarray, threshold: float, title: str = "", latent_name: str = "latent"
) -> Figure:
    """Samples (sorted, most anomalous on top) × dimensions; the line marks the threshold."""
    order = np.argsort(scores)[::-1]
    z = latent[order]
    lim = float(np.percentile(np.abs(z), 99)) or 1.0
    fig, ax = _figure(colorbar=True)
    im = ax.imshow(z, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    n_flagged = int((scores > threshold).sum())
    if 0 < n_flagged < len(scores):
        ax.axhline(n_flagged - 0.5, color="black", ls="--", lw=1, label="threshold")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(f"{latent_name} dimension")
    ax.set_ylabel("sample (sorted by score, highest on top)")
    ax.set_title(title or f"{latent_name.capitalize()} heatmap")
    fig.colorbar(im, ax=ax, label="value")
    return fig


def histogram_figure(
    train_scores: np.ndarray,
    validation_scores: np.ndarray | None,
    threshold: float,
    title: str = "",
    data_scores: np.ndarray | None = None,
    data_label: str = "data",
    validation_label: str = "validation",
) -> Figure:
    """Training vs validation scores filled, the report's data as an outline, on shared bins; log counts,
    threshold dashed. A gap between training and validation is the in-sample bias a threshold must avoid."""
    styles: list[tuple[np.ndarray | None, str, dict[str, Any]]] = [
        (train_scores, "training (in-sample)", dict(alpha=0.5, color=NORMAL_COLOUR)),
        (validation_scores, validation_label, dict(alpha=0.5, color="#ff7f0e")),
        (data_scores, data_label, dict(histtype="step", color="black", lw=1.3)),
    ]
    series = [(np.asarray(s, dtype=float), label, style) for s, label, style in styles if s is not None and len(s)]
    both = np.concatenate([s for s, _, _ in series])
    bins = list(np.histogram_bin_edges(both[np.isfinite(both)], bins=40))
    fig, ax = _figure()
    for scores, label, style in series:
        ax.hist(scores, bins=bins, label=f"{label} ({len(scores)})", **style)
    ax.axvline(threshold, color="black", ls="--", lw=1.2, label=f"threshold {threshold:.4g}")
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel("score (higher = more anomalous)")
    ax.set_ylabel("count (log)")
    ax.set_title(title or "Score distributions")
    ax.legend(fontsize=8)
    return fig


def boxplot_figure(scores: dict[str, np.ndarray], thresholds: dict[str, float]) -> Figure:
    """Every head's scores divided by its threshold, so heads on different scales share one axis at 1."""
    names = list(scores)
    ratios = [np.asarray(scores[n], dtype=float) / thresholds[n] for n in names]
    fig, ax = _figure(max(4.5, 1.1 * len(names) + 2))
    ax.boxplot(ratios, tick_labels=names, showfliers=True)
    ax.axhline(1.0, color="black", ls="--", lw=1.2, label="threshold")
    if all((r > 0).all() for r in ratios):
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    ax.set_ylabel("score ÷ threshold")
    ax.set_title("Scores across heads")
    ax.legend(fontsize=8)
    return fig


def _plain_log_ticks(ax: plt.Axes) -> None:
    """1, 2, 5, 10 … instead of 2×10⁰ on a log axis."""
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def png_base64(fig: Figure, dpi: int = 96) -> str:
    """Render and close a figure; returns base64 PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def head_figures(view: HeadView, other_label: str) -> dict[str, Figure]:
    """The four per-head figures, keyed by a short name used in file names and alt text."""
    return {
        "pca": pca_figure(view.latent, view.flagged, f"{view.name}: PCA of the {view.latent_name}", view.latent_name),
        "density": density_figure(view.latent, latent_name=view.latent_name),
        "heatmap": heatmap_figure(view.latent, view.scores, view.threshold, latent_name=view.latent_name),
        "histogram": histogram_figure(
            view.train_scores,
            view.validation_scores,
            view.threshold,
            f"{view.name}: threshold from {view.threshold_basis} scores",
            view.scores,
            other_label,
            VALIDATION_LABELS.get(view.threshold_basis, "validation"),
        ),
    }


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h1{margin-bottom:.2em} .meta{color:#666} img{max-width:100%;border:1px solid #eee}
.figs{display:grid;grid-template-columns:repeat(2,1fr);gap:10px}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
td.file,th.file{text-align:left;font-family:monospace} td.flag{color:#d62728;font-weight:bold}
"""


def render_html(
    title: str, meta: str, views: list[HeadView], files: list[str], primary: str, other_label: str = "validation"
) -> str:
    """The whole page: summary box plot, the top-N table ranked by the primary head, then one section per head."""
    esc = html.escape
    by_name = {v.name: v for v in views}
    boxes = png_base64(boxplot_figure({v.name: v.scores for v in views}, {v.name: v.threshold for v in views}))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1><p class='meta'>{esc(meta)}</p>",
        "<h2 id='heads'>Scores across heads</h2>",
        f"<img alt='box plot of scores across heads' src='data:image/png;base64,{boxes}'>",
        f"<h2 id='top'>The {min(TOP_N, len(files))} most anomalous files (by {esc(primary)})</h2>",
        _top_table(views, files, by_name[primary]),
    ]
    for v in views:
        parts.append(
            f"<h2 id='head-{esc(v.name)}'>{esc(v.name)} <small>({'' if v.kind == v.name else esc(v.kind) + ', '}"
            f"{esc(_summary(v.kind))}threshold {v.threshold:.4g}, "
            f"{int(v.flagged.sum())} of {len(v.scores)} flagged)</small></h2><div class='figs'>"
        )
        for key, fig in head_figures(v, other_label).items():
            parts.append(
                f"<img class='fig-{key}' alt='{esc(v.name)} {key}' src='data:image/png;base64,{png_base64(fig)}'>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _top_table(views: list[HeadView], files: list[str], primary: HeadView) -> str:
    esc = html.escape
    order = np.argsort(primary.scores)[::-1][:TOP_N]
    folder = _common_folder(files)
    if folder:
        files = [os.path.relpath(f, folder) for f in files]
    head = "".join(f"<th>{esc(v.name)}</th>" for v in views)
    rows = []
    for rank, i in enumerate(order, start=1):
        cells = "".join(f"<td class='{'flag' if v.flagged[i] else ''}'>{v.scores[i]:.4g}</td>" for v in views)
        rows.append(f"<tr><td>{rank}</td><td class='file'>{esc(files[i])}</td>{cells}</tr>")
    where = f" Paths are relative to {esc(folder)}." if folder else ""
    return (
        f"<table class='top'><thead><tr><th>#</th><th class='file'>file</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><p class='meta'>Bold red: above that head's threshold.{where}</p>"
    )


def _common_folder(files: list[str]) -> str:
    """The folder all files share, so the table shows short names; empty when they share none."""
    if not all(os.path.isabs(f) for f in files):
        return ""
    common = os.path.commonpath(files) if len(files) > 1 else os.path.dirname(files[0])
    return os.path.dirname(common) if common in files else common


def report_index(out: str | Path, force: bool = False) -> Path:
    """Where the page goes; refuses (before any slow work) to replace an existing page unless `force`."""
    out = Path(out)
    index = out / "index.html"
    if out.exists() and not out.is_dir():
        raise LoopbridgeError(f"{out} exists and is not a folder", "report")
    if index.exists() and not force:
        raise LoopbridgeError(f"{index} already exists; choose another --out or add --force to replace it", "report")
    return index


def write_report(out: str | Path, page: str, force: bool = False) -> Path:
    """Write `index.html` into `out` (created if needed); other files in the folder are left alone."""
    index = report_index(out, force)
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index


LATENT = "latent"  # the tensor a Deep SVDD head's ONNX graph computes before its distance to c


def head_latents(bundle: Bundle, head: str, X: np.ndarray) -> np.ndarray | None:
    """The head's latent per row, read from its own ONNX graph; None for heads without one (baselines).

    The bundle stores no torch modules, so the graph is asked to also return its `latent` tensor.
    """
    import onnx
    from onnx import TensorProto, helper

    from loopbridge.encoders import make_session

    model = onnx.load(str(bundle.path / bundle.manifest.heads[head].file))
    graph = model.graph
    if LATENT not in {out for node in graph.node for out in node.output}:
        return None
    if LATENT not in {o.name for o in graph.output}:
        graph.output.append(helper.make_tensor_value_info(LATENT, TensorProto.FLOAT, None))
    session = make_session(model.SerializeToString())
    return np.asarray(session.run([LATENT], {"embedding": np.asarray(X, np.float32)})[0], dtype=np.float64)


def _summary(kind: str) -> str:
    """The registry's one line on a head, for its section title (nothing for a head the registry lacks)."""
    info = heads_registry.REGISTRY.get(kind)
    return f"{info.summary}; " if info else ""


def head_views(bundle: Bundle, X: np.ndarray) -> list[HeadView]:
    """Every head of the bundle on the embeddings X: scores, latents (or X itself), threshold, training scores."""
    scores = bundle.scores(X)
    views = []
    for head in bundle.heads:
        latent = head_latents(bundle, head, X)
        in_sample = bundle.in_sample_scores.get(head)
        views.append(
            HeadView(
                name=head,
                kind=bundle.manifest.heads[head].kind,
                latent=np.asarray(X, np.float64) if latent is None else latent,
                latent_name="embedding" if latent is None else LATENT,
                scores=scores[head],
                threshold=bundle.thresholds[head],
                train_scores=bundle.training_scores[head] if in_sample is None else in_sample,
                validation_scores=bundle.validation_scores.get(head),
                threshold_basis=bundle.threshold_basis[head],
            )
        )
    return views


def bundle_report(bundle: Bundle, X: np.ndarray, files: list[str], data_label: str) -> str:
    """The page for one bundle on one data set (`data_label` says where the rows came from)."""
    if len(files) < 3:
        raise LoopbridgeError(f"a report needs at least 3 files to plot; {data_label} has {len(files)}", "report")
    views = head_views(bundle, X)
    m = bundle.manifest
    enc = m.encoder.preset or "unknown encoder (plain .npy)"
    meta = (
        f"model {bundle.name} (created {m.created}, loopbridge {m.loopbridge_version}); "
        f"encoder {enc}, {bundle.dim}-d; {len(files)} files from {data_label}; primary head {bundle.primary}. "
        f"Histograms compare each head's in-sample training scores, its held-out scores (the threshold's "
        f"basis unless it says in-sample) and the scores of these files."
    )
    return render_html(f"loopbridge report: {bundle.name}", meta, views, files, bundle.primary, data_label)


def bundle_embeddings(
    bundle: Bundle,
    data: list[str] | None,
    embeddings: Path | None,
    max_seconds: float = MAX_SECONDS,
    progress: bool = True,
) -> tuple[Embeddings, str]:
    """The rows to plot: audio embedded with the bundle's own encoder (through the cache), or saved embeddings.

    Returns them with a label saying where they came from; unreadable files are skipped with a warning.
    """
    from loopbridge.audio import expand_paths
    from loopbridge.cache import EmbeddingCache
    from loopbridge.embedding import embed_files, load_embeddings
    from loopbridge.pipeline import Scorer

    scorer = Scorer(bundle)
    if embeddings is not None:
        emb = load_embeddings(embeddings)
        scorer.check_embedding_source(emb.encoder_id)
        return emb, Path(embeddings).name
    files = expand_paths(data or [])
    if not files:
        raise LoopbridgeError(f"no audio files found in {', '.join(data or [])}", "no_files")
    encoder = scorer.encoder
    emb, failures = embed_files(
        files, encoder, progress=progress, max_seconds=max_seconds, cache=EmbeddingCache(encoder.id)
    )
    for f in failures:
        log.warning("skipped %s", f.error.message)
    return emb, ", ".join(Path(d).resolve().name for d in data or [])
