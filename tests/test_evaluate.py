"""Labelled evaluation: label files, AUROC / pAUC against hand-computed cases, per-defect breakdown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from loopbridge.errors import LoopbridgeError
from loopbridge.export.evaluate import (
    ALL,
    ANOMALOUS,
    NORMAL,
    Labels,
    auroc,
    evaluate_sources,
    format_table,
    pauc,
    read_labels,
)


def _touch(folder: Path, *names: str) -> None:
    for n in names:
        (folder / n).parent.mkdir(parents=True, exist_ok=True)
        (folder / n).write_bytes(b"x")


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_auroc_matches_hand_count() -> None:
    # pairs (anomalous > normal): 0.35 beats 0.1 only, 0.8 beats both → 3 of 4.
    y = np.array([0, 0, 1, 1])
    assert auroc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_pauc_is_mcclish_standardised() -> None:
    y = np.array([0] * 10 + [1] * 10)
    s = np.arange(20, dtype=float)
    assert pauc(y, s) == pytest.approx(1.0)
    # Fully reversed: partial area 0; standardised 0.5·(1 + (0 − 0.005)/(0.1 − 0.005)).
    assert pauc(y, -s) == pytest.approx(0.5 * (1 - 0.005 / 0.095))
    rng = np.random.default_rng(1)
    r = rng.normal(size=20) + y
    assert pauc(y, r) == pytest.approx(roc_auc_score(y, r, max_fpr=0.1))


def test_read_labels_resolves_relative_paths_and_kinds(tmp_path: Path) -> None:
    _touch(tmp_path, "a.wav", "b.wav", "sub/c.wav", "d.wav", "e.wav")
    labels = read_labels(
        _csv(tmp_path / "labels.csv", "file,label\na.wav,0\nb.wav,1\nsub/c.wav,Clipping\nd.wav,normal\ne.wav,clean\n")
    )
    assert labels.files[2] == str(tmp_path / "sub" / "c.wav")
    assert labels.kinds == [NORMAL, ANOMALOUS, "clipping", NORMAL, NORMAL]
    assert labels.y.tolist() == [0, 1, 1, 0, 0]
    assert labels.defect_kinds == [ANOMALOUS, "clipping"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("path,kind\na.wav,0\n", "needs a header with columns file,label (found: path, kind)"),
        ("", "found: nothing"),
        ("file,label\na.wav,0\na.wav,1\n", "listed twice"),
        ("file,label\na.wav,\n", "line 2: empty file or label"),
        ("file,label\na.wav,0\nb.wav,0\n", "needs at least one normal (0) and one anomalous"),
        ("file,label\na.wav,0\nghost.wav,click\nother.wav,1\n", "2 labelled file(s) not found: ghost.wav, other.wav"),
    ],
)
def test_bad_label_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    _touch(tmp_path, "a.wav", "b.wav")
    with pytest.raises(LoopbridgeError, match=r"labels\.csv") as err:
        read_labels(_csv(tmp_path / "labels.csv", text))
    assert message in err.value.message


def test_missing_labels_file(tmp_path: Path) -> None:
    with pytest.raises(LoopbridgeError, match="labels file not found"):
        read_labels(tmp_path / "nope.csv")


def test_per_defect_breakdown_separates_what_each_source_hears() -> None:
    rng = np.random.default_rng(0)
    kinds = [NORMAL] * 30 + ["clipping"] * 10 + ["click"] * 10
    labels = Labels([f"f{i}.wav" for i in range(50)], kinds)
    clip_hearer = np.concatenate([rng.normal(0, 1, 30), rng.normal(10, 1, 10), rng.normal(0, 1, 10)])
    click_hearer = np.concatenate([rng.normal(0, 1, 30), rng.normal(0, 1, 10), rng.normal(10, 1, 10)])
    both = np.maximum(clip_hearer, click_hearer)
    both[5] = np.nan  # a file that could not be scored is left out, not counted as normal
    flags = {"clip": clip_hearer > 3}
    metrics = evaluate_sources(labels, {"clip": clip_hearer, "click": click_hearer, "combined": both}, flags)
    by = {(m.source, m.kind): m for m in metrics}
    assert [m.kind for m in metrics[:3]] == ["click", "clipping", ALL]
    assert by["clip", "clipping"].auroc == 1.0
    assert by["clip", "click"].auroc < 0.8
    assert by["click", "click"].auroc == 1.0
    assert by["click", "clipping"].auroc < 0.8
    assert 0.6 < by["clip", ALL].auroc < 0.9
    assert by["combined", ALL].auroc == 1.0
    assert by["combined", ALL].n_normal == 29
    assert by["clip", "clipping"].detected == 1.0
    assert by["clip", "click"].detected == 0.0
    assert by["clip", ALL].false_flags == 0.0
    assert by["click", ALL].detected is None

    table = format_table(metrics)
    assert "AUROC" in table
    assert "pAUC@0.1" in table
    assert "flagged" in table
    row = next(line for line in table.splitlines() if line.startswith("clipping (10)"))
    assert row.split()[2:] == ["1.000", f"{by['click', 'clipping'].auroc:.3f}", "1.000"]
