"""Reads a report page back the way a person sees it: which figures sit under which head, and the top table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest


@dataclass
class ParsedReport:
    images_per_head: dict[str, list[str]] = field(default_factory=dict)
    summary_images: int = 0
    sources: list[str] = field(default_factory=list)
    top_rows: list[list[str]] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.out = ParsedReport()
        self.head: str | None = None
        self.in_top = False
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "h2":
            ident = a.get("id") or ""
            self.head = ident.removeprefix("head-") if ident.startswith("head-") else None
        elif tag == "img":
            self.out.sources.append(a.get("src") or "")
            if self.head is None:
                self.out.summary_images += 1
            else:
                kind = (a.get("class") or "").removeprefix("fig-")
                self.out.images_per_head.setdefault(self.head, []).append(kind)
        elif tag == "table" and a.get("class") == "top":
            self.in_top = True
        elif self.in_top and tag == "tr":
            self.row = []
        elif self.row is not None and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_top = False
        elif tag == "td" and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row:
            self.out.top_rows.append(self.row)
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parse_report(page: str) -> ParsedReport:
    parser = _Parser()
    parser.feed(page)
    return parser.out


@dataclass(frozen=True)
class Fitted:
    """A tiny mel-stats model fitted on clean synthetic loops, and a labelled set with defects to run it on."""

    model: str
    home: Path  # the LOOPBRIDGE_HOME the model lives in
    train: Path
    data: Path
    labels: Path


def fit_small_model(
    root: Path,
    kinds: tuple[str, ...] = ("clipping", "dropout", "hiss"),
    heads: str = "aewres,ae,iforest,pca,knn,mahalanobis",
    n_clean: int = 16,
    n_per_defect: int = 4,
) -> Fitted:
    """Fit through the CLI as a user would (mel-stats, few epochs, small layers), within LOOPBRIDGE_HOME."""
    from loopbridge.cli import main
    from loopbridge.synth import write_library

    write_library(root / "train", n_clean=30, n_per_defect=0, seed=1, bars=1)
    labels = write_library(root / "data", n_clean=n_clean, n_per_defect=n_per_defect, seed=2, kinds=kinds, bars=1)
    rc = main(
        [
            "fit",
            str(root / "train"),
            "--name",
            "small",
            "--encoder",
            "mel-stats",
            "--heads",
            heads,
            "--epochs",
            "15",
            "--patience",
            "5",
            "--hidden",
            "32,16,8",
            "--no-progress",
        ]
    )
    assert rc == 0
    return Fitted("small", Path(os.environ["LOOPBRIDGE_HOME"]), root / "train", root / "data", labels)


_SHARED: dict[str, Fitted] = {}


def shared_small_model(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    """One small model per test session, shared by the report and evaluate tests (fitting is the slow part)."""
    if "small" not in _SHARED:
        root = tmp_path_factory.mktemp("small-model")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LOOPBRIDGE_HOME", str(root / "home"))
            _SHARED["small"] = fit_small_model(root)
    return _SHARED["small"]
