"""The command line's context options (`--start/--end --bpm --key --meter`) on `check` and `score`, and `fit`
refusing an existing name before it imports anything heavy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import tone, write_audio

from loopbridge.cli import main


def _clean_then_clipped(path):
    """2 s of a tone, then 2 s of the same tone driven hard into clipping."""
    clean = tone(2.0, freq=137.5, amp=0.35, seed=3)
    return write_audio(path, np.concatenate([clean, np.clip(clean * 8, -1, 1)]).astype(np.float32))


def test_check_judges_only_the_region_with_times_from_its_start(tmp_path, capsys):
    take = _clean_then_clipped(tmp_path / "take.wav")
    main(["check", str(take), "--start", "0", "--end", "2", "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["region"] == [0.0, 2.0]
    assert row["duration_s"] == pytest.approx(2.0)
    assert "clipping" not in [f["kind"] for f in row["findings"]]
    assert main(["check", str(take), "--start", "2", "--json"]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    clipping = [f for f in row["findings"] if f["kind"] == "clipping"]
    assert clipping
    assert all(f["start_s"] < 2.0 for f in row["findings"])  # seconds of the region, not of the file
    assert main(["check", str(take), "--start", "2", "--end", "4"]) == 1
    assert "region 2.00-4.00 s" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--start", "3", "--end", "1"], "must be after --start"),
        (["--start", "-1"], "0 or more"),
        (["--meter", "four"], "4/4"),
        (["--bpm", "0"], "between 20 and 999"),
    ],
)
def test_bad_context_options_are_refused_before_any_file_is_read(tmp_path, capsys, argv, words):
    take = _clean_then_clipped(tmp_path / "take.wav")
    assert main(["check", str(take), *argv]) == 2
    assert words in capsys.readouterr().err


def test_a_region_past_the_file_is_a_clear_skip(tmp_path, capsys, caplog):
    take = _clean_then_clipped(tmp_path / "take.wav")
    assert main(["check", str(take), "--start", "9"]) == 2
    assert "outside the file" in caplog.text


def test_score_with_a_region_and_context_records_the_region(tmp_path, capsys, model_files, monkeypatch):
    bundle, _ = model_files
    take = _clean_then_clipped(tmp_path / "take.wav")
    argv = ["score", str(take), "--model", str(bundle), "--json", "--bpm", "120", "--key", "G minor", "--meter", "4/4"]
    assert main([*argv, "--start", "0", "--end", "2"]) == 0
    (clean,) = json.loads(capsys.readouterr().out)
    assert clean["region"] == [0.0, 2.0]
    assert clean["duration_s"] == pytest.approx(2.0)
    assert "clipping" not in clean["flagged_by"]
    assert main([*argv, "--start", "2", "--end", "4"]) == 0
    (clipped,) = json.loads(capsys.readouterr().out)
    assert "clipping" in clipped["flagged_by"]
    assert all(r["start_s"] < 2.0 for r in clipped["reasons"])


def test_fit_refuses_an_existing_name_before_importing_the_fitting_code(tmp_path):
    home = tmp_path / "home"
    (home / "data" / "models" / "bass").mkdir(parents=True)
    write_audio(tmp_path / "loops" / "a.wav", tone(0.5))
    code = (
        "import sys; from loopbridge.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'torch' in sys.modules, 'loopbridge.export.fit' in sys.modules)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, "fit", str(tmp_path / "loops"), "--name", "bass"],
        env={**os.environ, "LOOPBRIDGE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout.split() == ["2", "False", "False"], run.stderr
    assert "already exists" in run.stderr
