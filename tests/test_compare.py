"""`loopbridge compare` on 2, 3 and 5 rendered takes of one part, through the real note model."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from loopbridge import synth
from loopbridge.cli import main
from loopbridge.music import buzz, compare, timing, transcribe
from loopbridge.music.context import MusicContext, key_from_name
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
    assert np.allclose(compare.versus(np.full(5, 8.0)), 0.0)
    one = compare.versus(np.array([-8.0, -8.0, 12.0, -8.0, -8.0, np.nan]))
    assert one[2] == 20.0
    assert np.allclose(one[[0, 1, 3, 4]], 0.0)
    assert np.isnan(one[5])


def _takes(part: synth.Part, seeds: range, defect: str | None = None) -> list[compare.Take]:
    out = []
    for k in seeds:
        loop, _ = synth.play_part(part, k, defect=defect if k == seeds[0] else None, strength=0.6)
        mono = loop.samples.astype(np.float32)
        out.append(compare.Take(f"take{k}", transcribe(mono, loop.sample_rate), mono, loop.sample_rate))
    return out


@pytest.mark.parametrize("style", ["finger", "slap"])
def test_a_note_is_compared_with_its_siblings_over_the_window_they_share(style: str) -> None:
    """A note whose next attack the note model missed is measured further into its ring than the same note in the
    siblings; over the window they share it is as noisy as theirs, though the raw levels differ by 7+ dB."""
    part = synth.make_part(7, instrument="bass", style=style, bars=1)
    this, *others = _takes(part, range(20, 24))
    theirs = [compare._treble(t) for t in others]
    evts = timing.events(this.notes)
    raw, shared = [], []
    for k in range(1, len(evts) - 1):
        missed = {id(n) for n in evts[k + 1].notes}
        mine = compare._treble(compare.Take("cut", [n for n in this.notes if id(n) not in missed], this.mono, this.sr))
        i = next(j for j, e in enumerate(mine.evts) if e.onset_s == evts[k].onset_s)
        same = [tr.db[j] for tr, j in compare._same_note(evts[k].onset_s, theirs)]
        raw.append(mine.db[i] - np.median(same))
        shared.append(compare.over_siblings(mine, theirs)[i])
    assert np.nanmax(raw) > compare.BUZZ_LIMIT_DB
    assert np.nanmax(np.abs(shared)) < 5.0


def test_a_buzzing_note_stands_out_from_the_same_note_in_three_clean_takes() -> None:
    part = synth.make_part(3, instrument="bass", style="finger", bars=1)
    takes = _takes(part, range(30, 34), defect="buzz")
    _, info = synth.play_part(part, 30, defect="buzz", strength=0.6)
    ctx = MusicContext(part.bpm, "request", None, "default")
    found = [f for f in compare.departures(takes[0], takes[1:], ctx) if f.kind == "buzz"]
    assert found
    assert all(f.severity >= compare.FLAG_SEVERITY for f in found)
    assert abs(found[0].start_s - buzz.START_S - info.start_s) < 0.03
    for t in range(1, 4):  # the clean takes, each against the other two and the buzzing one
        assert not [f for f in compare.departures(takes[t], takes[:t] + takes[t + 1 :], ctx) if f.kind == "buzz"]


def test_a_buzzing_note_whose_attack_the_note_model_missed_is_measured_where_the_other_takes_play_it() -> None:
    """A rattle can leave the buzzing note unplaced or faint in the transcription (no attack of its own): then it is
    measured at the others' attack, over their window, and still found; the clean takes, so measured, are not."""
    part = synth.make_part(3, instrument="bass", style="finger", bars=1)
    takes = _takes(part, range(30, 34), defect="buzz")
    _, info = synth.play_part(part, 30, defect="buzz", strength=0.6)
    ctx = MusicContext(part.bpm, "request", None, "default")
    hidden = [
        replace(n, placed=False, confidence=0.5) if abs(n.onset_s - info.start_s) < 0.05 else n for n in takes[0].notes
    ]
    assert len(hidden) == len(takes[0].notes)
    assert hidden != takes[0].notes
    this = compare.Take("hidden", hidden, takes[0].mono, takes[0].sr)
    assert not any(abs(e.onset_s - info.start_s) < compare.MATCH_S for e in this.treble.evts)
    loud = [(t, d) for t, d in compare.at_their_attacks(this, takes[1:]) if d > compare.THEIR_ATTACKS_DB]
    assert [abs(t - info.start_s) < 0.03 for t, _ in loud] == [True]
    found = [f for f in compare.departures(this, takes[1:], ctx) if f.kind == "buzz"]
    assert len(found) == 1
    assert found[0].severity >= compare.FLAG_SEVERITY
    assert "than in the other takes" in found[0].message
    for t in range(1, 4):
        rest = takes[:t] + takes[t + 1 :]
        assert max(d for _, d in compare.at_their_attacks(takes[t], rest)) < compare.THEIR_ATTACKS_DB


def test_a_buzzing_note_is_measured_where_two_of_the_others_play_it_whichever_they_are() -> None:
    """The other takes' attacks are each take's: one that the others' fullest transcription lacks (its own attack
    unplaced) but two others have is still where the buzzing note is measured."""
    part = synth.make_part(3, instrument="bass", style="finger", bars=1)
    takes = _takes(part, range(30, 34), defect="buzz")
    _, info = synth.play_part(part, 30, defect="buzz", strength=0.6)

    def hidden(take: compare.Take, extra: list[Note]) -> compare.Take:
        notes = [
            replace(n, placed=False, confidence=0.5) if abs(n.onset_s - info.start_s) < 0.05 else n for n in take.notes
        ]
        return compare.Take(take.path, notes + extra, take.mono, take.sr)

    end = takes[1].mono.size / takes[1].sr
    # one sibling lacks the attack but has the most attacks (two more, near its end)
    fullest = hidden(takes[1], [Note(end - t, end - t + 0.1, 40, 0.8, 0.9, True) for t in (0.3, 0.15)])
    others = [fullest, *takes[2:]]
    assert len(fullest.treble.evts) > max(len(o.treble.evts) for o in takes[2:])
    assert not any(abs(e.onset_s - info.start_s) < compare.MATCH_S for e in fullest.treble.evts)
    this = hidden(takes[0], [])
    loud = [(t, d) for t, d in compare.at_their_attacks(this, others) if d > compare.THEIR_ATTACKS_DB]
    assert [abs(t - info.start_s) < 0.03 for t, _ in loud] == [True]


def test_a_wrong_note_played_softly_is_still_heard_instead_of_the_others_note_and_not_called_missing() -> None:
    """A wrong note is often played softer or heard less surely: under the `sure` limits, it still stands where
    the other takes clearly play another pitch, and their note is not also reported missing."""
    part = synth.make_part(4, instrument="bass", style="finger", bars=1)
    takes = _takes(part, range(40, 44), defect="wrong_note")
    _, info = synth.play_part(part, 40, defect="wrong_note", strength=0.6)
    ctx = MusicContext(part.bpm, "request", key_from_name(part.key), "request")
    assert ctx.key is not None
    wrong = [
        n for n in takes[0].notes if abs(n.onset_s - info.start_s) < 0.05 and n.pitch % 12 not in ctx.key.pitch_classes
    ]
    assert wrong
    soft = [replace(n, velocity=0.4) if n in wrong else n for n in takes[0].notes]
    this = compare.Take("soft", soft, takes[0].mono, takes[0].sr)
    assert not [n for n in this.sure() if n in [replace(w, velocity=0.4) for w in wrong]]
    found = compare.departures(this, takes[1:], ctx)
    hit = [f for f in found if f.kind == "wrong_note" and abs(f.start_s - info.start_s) < 0.05]
    assert len(hit) == 1
    assert hit[0].severity >= compare.FLAG_SEVERITY
    assert "where the other takes play" in hit[0].message
    assert "outside" in hit[0].message
    assert not [f for f in found if f.kind == "missing_note" and abs(f.start_s - info.start_s) < compare.NEIGHBOUR_S]
    faint = [replace(n, velocity=0.2) if n in wrong else n for n in takes[0].notes]  # too faint to stand for a note
    quiet = compare.departures(compare.Take("faint", faint, takes[0].mono, takes[0].sr), takes[1:], ctx)
    assert not [f for f in quiet if f.kind == "wrong_note" and abs(f.start_s - info.start_s) < 0.05]


def test_a_soft_overtone_of_the_other_takes_note_is_not_a_wrong_note() -> None:
    """Where the note model missed this take's fundamental it may report only its twelfth: soft, and a pitch the
    others don't play, but their note's overtone, not a note played instead."""
    part = synth.make_part(4, instrument="bass", style="finger", bars=1)
    takes = _takes(part, range(40, 44), defect="wrong_note")
    _, info = synth.play_part(part, 40, defect="wrong_note", strength=0.6)
    ctx = MusicContext(part.bpm, "request", key_from_name(part.key), "request")
    theirs = next(n for n in takes[1].sure() if abs(n.onset_s - info.start_s) < 0.05)
    twelfth = [
        replace(n, pitch=theirs.pitch + 19, velocity=0.4) if abs(n.onset_s - info.start_s) < 0.05 else n
        for n in takes[0].notes
    ]
    found = compare.departures(compare.Take("twelfth", twelfth, takes[0].mono, takes[0].sr), takes[1:], ctx)
    assert not [f for f in found if f.kind == "wrong_note" and abs(f.start_s - info.start_s) < 0.05]
    louder = [replace(n, pitch=theirs.pitch + 1) if n.pitch == theirs.pitch + 19 else n for n in twelfth]
    found = compare.departures(compare.Take("semitone", louder, takes[0].mono, takes[0].sr), takes[1:], ctx)
    assert [f for f in found if f.kind == "wrong_note" and abs(f.start_s - info.start_s) < 0.05]
