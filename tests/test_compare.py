"""`loopbridge compare` on 2, 3 and 5 rendered takes of one part, through the real note model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from loopbridge import synth
from loopbridge.cli import main
from loopbridge.music import compare, timing
from loopbridge.music.notes import Note


def _write(tmp_path, part: synth.Part, plan: list[str | None], seed: int = 10) -> tuple[list[str], list]:
    paths, defects = [], []
    for k, defect in enumerate(plan):
        loop, info = synth.play_part(part, seed + k, defect=defect, strength=0.6)
        paths.append(str(tmp_path / f"take{k + 1}.wav"))
        sf.write(paths[-1], loop.samples, loop.sample_rate, subtype="PCM_24")
        defects.append(info)
    return paths, defects


def _compare(paths: list[str], capsys, *extra: str) -> tuple[int, dict]:
    code = main(["compare", *paths, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("instrument", "style", "plan", "kind"),
    [
        ("guitar", "clean", [None, "timing_slip", None], "timing"),
        ("bass", "slap", [None, None, "wrong_note", None, None], "wrong_note"),
        ("guitar", "clean", [None, None, None, None, "timing_slip"], "timing"),
    ],
)
def test_the_take_that_departs_ranks_last_and_says_where(tmp_path, capsys, instrument, style, plan, kind) -> None:
    part = synth.make_part(5, instrument=instrument, style=style, bpm=100, bars=2, swing=0.0)
    paths, defects = _write(tmp_path, part, plan)
    code, out = _compare(paths, capsys, "--bpm", "100", "--key", part.key)
    bad = next(i for i, d in enumerate(defects) if d is not None)
    rows = out["takes"]
    assert code == 1
    assert out["context"]["bpm_from"] == "cli"
    assert out["context"]["key"] == part.key
    assert rows[bad]["flag"]
    assert rows[bad]["rank"] == len(paths)
    assert not any(r["flag"] for i, r in enumerate(rows) if i != bad)
    hit = [d for d in rows[bad]["departures"] if d["kind"] == kind]
    assert hit
    assert abs(hit[0]["start_s"] - defects[bad].start_s) < 0.05 or kind == "timing"
    assert hit[0]["message"].startswith(f"take {bad + 1}: ")
    if kind == "timing":
        assert "ms after the other takes" in hit[0]["message"] or "ms before the other takes" in hit[0]["message"]
    else:
        assert "where the other takes play" in hit[0]["message"] or "don't play" in hit[0]["message"]


def test_two_takes_say_which_notes_differ_and_flag_the_one_out_of_key(tmp_path, capsys) -> None:
    part = synth.make_part(5, instrument="guitar", style="clean", bpm=100, bars=2, swing=0.0)
    paths, defects = _write(tmp_path, part, [None, "wrong_note"])
    code, out = _compare(paths, capsys, "--bpm", "100", "--key", part.key)
    clean, wrong = out["takes"]
    assert code == 1
    assert wrong["flag"]
    assert not clean["flag"]
    assert (wrong["rank"], clean["rank"]) == (2, 1)
    assert any("where the other take plays" in d["message"] and "outside" in d["message"] for d in wrong["departures"])
    # the clean take is told the same difference from its side, without a flag
    assert any(abs(d["start_s"] - defects[1].start_s) < 0.05 for d in clean["departures"])


def test_compare_prints_a_ranking_and_the_context_it_used(tmp_path, capsys) -> None:
    part = synth.make_part(5, instrument="guitar", style="clean", bpm=100, bars=2, swing=0.0)
    paths, _ = _write(tmp_path, part, [None, "timing_slip", None])
    named = tmp_path / f"gtr_100bpm_{part.key.replace(' ', '_')}.wav"
    (tmp_path / "take1.wav").rename(named)
    paths[0] = str(named)
    assert main(["compare", *paths]) == 1
    out = capsys.readouterr().out
    assert f"judged at 100 BPM (name), {part.key} (name)" in out
    lines = out.splitlines()
    assert lines[1].startswith("1. ")
    assert "3. take 2" in out
    assert "FLAGGED" in out


def test_compare_refuses_a_single_take(tmp_path, capsys) -> None:
    part = synth.make_part(5, bars=1)
    paths, _ = _write(tmp_path, part, [None])
    assert main(["compare", *paths]) == 2
    assert "two or more takes" in capsys.readouterr().err


def test_a_take_noisier_on_every_note_is_not_buzz_but_its_one_noisier_note_is() -> None:
    """Against siblings a note's treble counts above the take's usual difference from them: a take driven harder
    (or, distorted, less) is so on every note."""
    evts = timing.events([Note(t, t + 0.3, 40, 0.7, 0.9, True) for t in (0.0, 0.5, 1.0, 1.5, 2.0)])
    theirs = [(evts, np.full(5, -30.0))] * 3
    uniform = compare.versus(evts, np.full(5, -22.0), theirs)
    assert np.allclose(uniform, 0.0)
    one = compare.versus(evts, np.array([-38.0, -38.0, -18.0, -38.0, -38.0]), theirs)
    assert one[2] == 20.0
    assert np.allclose(np.delete(one, 2), 0.0)
