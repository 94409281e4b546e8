"""`loopbridge encoder export|fetch` refuse bad requests clearly, before any download or export starts."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from loopbridge.cli import main
from loopbridge.encoders import encoder_path


def test_export_of_a_missing_checkpoint_names_it(lb_home: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere.pt"
    assert main(["encoder", "export", "--checkpoint", str(missing), "--preset", "clap-htsat-fused"]) == 2
    assert f"{missing}: checkpoint not found" in capsys.readouterr().err
    assert not encoder_path("clap-htsat-fused").exists()


@pytest.mark.parametrize("action", [["fetch"], ["export", "--checkpoint", "x.pt"]])
def test_presets_without_weights_are_refused(lb_home: Path, action: list[str], capsys) -> None:
    assert main(["encoder", *action, "--preset", "mel-stats"]) == 2
    assert "'mel-stats' has no weights to download" in capsys.readouterr().err


def test_fetch_without_the_torch_side_says_how_to_get_it(lb_home: Path, monkeypatch, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "laion_clap" else real(name, *a))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # would fail differently if a download were tried
    assert main(["encoder", "fetch"]) == 2
    assert 'needs laion_clap: pip install "loopbridge[torch]"' in capsys.readouterr().err


def test_list_shows_every_preset_and_the_cache_folders(lb_home: Path, capsys) -> None:
    assert main(["encoder", "list"]) == 0
    out = capsys.readouterr().out
    for preset in ("mel-stats", "clap-htsat-fused", "clap-htsat-music"):
        assert preset in out
    assert str(lb_home) in out
    assert re.search(r"clap-htsat-fused\s+768\s+-\s+-\s+-\s", out), out  # fresh home: nothing cached
