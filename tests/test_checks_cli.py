"""`loopbridge check` as a user runs it: findings per file, JSON, unreadable files skipped, a model's calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_audio
from helpers_checks import loop, with_defect

from loopbridge.cli import main


@pytest.fixture
def takes(tmp_path):
    lp = loop(5, channels=2)
    folder = tmp_path / "takes"
    write_audio(folder / "clean.wav", lp.samples, 48_000, "PCM_24")
    y, _ = with_defect(lp, "clipping", seed=1)
    write_audio(folder / "clipped.wav", y, 48_000, "PCM_16")
    (folder / "notes.wav").write_text("not audio")
    return folder


def test_check_prints_findings_per_file_and_skips_unreadable(takes, capsys, caplog) -> None:
    caplog.set_level("INFO", logger="loopbridge")
    rc = main(["check", str(takes)])
    out, err = capsys.readouterr().out, caplog.text
    assert rc == 1  # something was found
    assert "clean.wav" in out
    assert ": OK" in out
    clipped = out.split("clipped.wav", 1)[1]
    assert "clipping" in clipped
    assert "clipped" in clipped
    assert " s" in clipped
    assert "notes.wav" in err
    assert "not a readable audio file" in err
    assert "built-in limits" in err
    assert "1 of 2 file(s) with findings; 1 skipped" in out


def test_check_json_lists_every_file_including_errors(takes, capsys) -> None:
    main(["check", "--json", str(takes / "clipped.wav"), str(takes / "clean.wav"), str(takes / "notes.wav")])
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["file"].rsplit("/", 1)[1]: r for r in rows}
    assert by_name["clean.wav"]["findings"] == []
    first = by_name["clipped.wav"]["findings"][0]
    assert first["kind"] == "clipping"
    assert 0 < first["severity"] <= 1
    assert first["message"]
    assert by_name["notes.wav"]["code"] == "not_audio"


def test_check_exit_status_zero_when_clean_and_two_when_nothing_readable(takes, tmp_path, capsys) -> None:
    assert main(["check", str(takes / "clean.wav")]) == 0
    assert main(["check", str(takes / "notes.wav")]) == 2
    assert main(["check", str(tmp_path / "missing.wav")]) == 2
    assert "could be read" in capsys.readouterr().err


def test_check_reports_a_silent_take(tmp_path, capsys) -> None:
    path = write_audio(tmp_path / "unarmed.wav", np.zeros((4 * 48_000, 2), np.float32), 48_000, "PCM_24")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert ": OK" not in out
    assert "silence" in out
    assert "nothing was recorded" in out
    assert main(["check", "--json", str(path)]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert [f["kind"] for f in row["findings"]] == ["silence"]


@pytest.mark.slow
def test_check_with_a_fitted_model_uses_its_calibration(tmp_path, lb_home, capsys) -> None:
    """A library of distorted guitars bounced hot: its own clipping is normal once a model is fitted on it."""
    library = tmp_path / "library"
    for i in range(6):
        y = loop(i, instrument="guitar", style="distorted").samples
        write_audio(library / f"hot{i}.wav", np.clip(y / np.abs(y).max() * 1.12, -1, 1), 48_000, "PCM_24")
    take = library.parent / "take.wav"
    (library / "hot5.wav").rename(take)
    assert (
        main(["fit", str(library), "--name", "hot", "--encoder", "mel-stats", "--heads", "pca", "--no-progress"]) == 0
    )
    assert main(["check", str(take)]) == 1
    capsys.readouterr()
    assert main(["check", "--model", "hot", str(take)]) == 0
    assert ": OK" in capsys.readouterr().out
