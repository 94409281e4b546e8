"""Musical checks on rendered takes, through the real Basic Pitch ONNX model: notes, context, timing, wrong notes, buzz."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from loopbridge import checks, synth
from loopbridge.audio import NativeAudio, read_native
from loopbridge.cli import main
from loopbridge.context import TakeContext
from loopbridge.music import analyse, buzz, compare, context, model, timing, transcribe, wrong_notes
from loopbridge.music.notes import Note


def _native(loop: synth.Loop, path: str = "take.wav") -> NativeAudio:
    x = loop.samples if loop.samples.ndim == 2 else loop.samples[:, None]
    return NativeAudio(path, x.astype(np.float32), loop.sample_rate, "FLOAT")


@pytest.mark.parametrize(
    ("name", "bpm", "key"),
    [
        ("bass_124bpm_Gm.wav", 124.0, "G minor"),
        ("Guitar 90 BPM A minor.wav", 90.0, "A minor"),
        ("lead_Fsharp_maj_120bpm.wav", 120.0, "F# major"),
        ("lead_Fsharp_maj_take_120.wav", None, "F# major"),
        ("Keys - Bb dorian - 98bpm.aif", 98.0, "A# dorian"),
        ("Am_chords_100bpm.wav", 100.0, "A minor"),
        ("bass_A_take_03.wav", None, None),
        ("take_03.wav", None, None),
        ("drums_C#m_140.wav", None, "C# minor"),
    ],
)
def test_context_from_sample_pack_names(name: str, bpm: float | None, key: str | None) -> None:
    found = context.key_from_name(name)
    assert (str(found) if found else None) == key
    assert context.tempo_from_name(name) == bpm


@pytest.mark.parametrize(
    ("text", "key"), [("G minor", "G minor"), ("Gm", "G minor"), ("F# major", "F# major"), ("Eb", "D# major")]
)
def test_keys_as_people_and_live_write_them(text: str, key: str) -> None:
    assert str(context.parse_key(text)) == key


def test_a_key_that_is_not_one_is_refused_by_name() -> None:
    with pytest.raises(context.ContextError, match="'H minor'"):
        context.parse_key("H minor")


def test_context_comes_from_the_caller_then_the_name_then_an_estimate() -> None:
    part = synth.make_part(2, instrument="bass", style="finger", bpm=120, bars=2, scale="minor")
    loop, _ = synth.play_part(part, 1)
    mono = loop.samples
    notes = transcribe(mono, loop.sample_rate)
    given = context.resolve(TakeContext(bpm=100, key="C major", source="cli"), "bass_120bpm_Em.wav", notes, mono, 48000)
    assert (given.bpm, str(given.key), given.bpm_from, given.key_from) == (100, "C major", "cli", "cli")
    named = context.resolve(None, "bass_120bpm_Em.wav", notes, mono, 48000)
    assert (named.bpm, str(named.key), named.bpm_from, named.key_from) == (120, "E minor", "name", "name")
    guessed = context.resolve(None, "take.wav", notes, mono, 48000)
    assert guessed.bpm_from == guessed.key_from == "estimate"
    assert guessed.bpm == pytest.approx(120, abs=0.5)  # 2 bars of 4/4 in 4 s
    assert guessed.key is not None
    assert len(guessed.key.pitch_classes & part.pitch_classes) >= 5  # a short bass line: the key or a neighbour


@pytest.mark.parametrize(("instrument", "style"), [("bass", "finger"), ("bass", "slap"), ("guitar", "clean")])
def test_notes_are_the_notes_played(instrument: str, style: str) -> None:
    part = synth.make_part(4, instrument=instrument, style=style, bpm=110, bars=2, swing=0.0)
    loop, _ = synth.play_part(part, 0)
    found = transcribe(loop.samples, loop.sample_rate)
    hit, errors = 0, []
    for played in loop.notes:
        same = [n for n in found if n.pitch % 12 == played.midi % 12 and abs(n.onset_s - played.start_s) < 0.05]
        if same:
            hit += 1
            errors.append(min(abs(n.onset_s - played.start_s) for n in same))
    assert hit >= 0.85 * len(loop.notes)
    assert np.median(errors) < 0.015  # onsets placed on the audio's attack, not the model's 11.6 ms frames


def test_low_bass_onsets_sit_on_their_attack() -> None:
    """A 1 ms peak of a 40–100 Hz note ripples with its waveform; over a period the pluck's rise is clear."""
    part = synth.make_part(5, instrument="bass", style="finger", bpm=100, bars=2, swing=0.0)
    loop, _ = synth.play_part(part, 3)
    starts = np.array([n.start_s for n in loop.notes])
    placed = [n for n in transcribe(loop.samples, loop.sample_rate) if n.placed and n.confidence >= 0.6]
    assert len(placed) >= 0.6 * len(loop.notes)
    errors = [float(np.min(np.abs(starts - n.onset_s))) for n in placed]
    assert max(errors) < 0.012, sorted(errors)[-3:]


def test_the_model_session_is_created_once() -> None:
    model.warm_up()
    assert model.session() is model.session()


def _judge(part: synth.Part, seed: int, defect: str | None, channels: int = 1, **kw):
    loop, info = synth.play_part(part, seed, defect=defect, channels=channels, strength=kw.pop("strength", 0.7))
    ctx = TakeContext(bpm=part.bpm, key=part.key, source="cli")
    return analyse(_native(loop), ctx, kw.get("calibration")), info


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(("instrument", "style", "swing"), [("bass", "finger", 0.0), ("guitar", "clean", 1.0)])
def test_a_late_or_early_note_is_named_with_where_and_by_how_much(channels, instrument, style, swing) -> None:
    part = synth.make_part(3, instrument=instrument, style=style, bpm=100, bars=2, swing=swing)
    clean, _ = _judge(part, 20, None, channels)
    assert not [f for f in clean.findings if f.kind == "timing"], clean.findings
    slipped, info = _judge(part, 21, "timing_slip", channels, strength=0.3)  # ~57 ms
    timing = [f for f in slipped.findings if f.kind == "timing"]
    assert timing, slipped.findings
    first = min(timing, key=lambda f: abs(f.start_s - info.start_s))
    assert info.start_s - 0.03 < first.start_s < info.start_s + info.duration_s
    assert "ms late" in first.message or "ms early" in first.message
    assert "(bar " in first.message
    assert ", beat " in first.message


def test_a_slip_the_grid_reads_as_swing_stands_out_from_the_takes_other_bars() -> None:
    """85 ms early onto the previous (odd) sixteenth reads, against the grid alone, as a swung off-beat; the
    take's other bar plays the note on the beat."""
    part = synth.make_part(4, instrument="guitar", style="clean", bpm=90, bars=2, swing=0.0)
    clean, _ = _judge(part, 1, None)
    assert not [f for f in clean.findings if f.kind == "timing"], clean.findings
    slipped, info = _judge(part, 5, "timing_slip", strength=0.61)
    timing_ = [f for f in slipped.findings if f.kind == "timing"]
    assert timing_, slipped.findings
    assert abs(timing_[0].start_s - info.start_s) < 0.03
    assert "before where the take's other bars play it" in timing_[0].message


def _strums(onsets: list[float], placed: bool = True) -> list[Note]:
    return [Note(t + k * 0.012, t + 0.2, 52 + 4 * k, 0.7, 0.9, placed) for t in onsets for k in range(3)]


def test_a_bar_that_varies_the_rhythm_by_a_sixteenth_is_not_a_slip() -> None:
    """At 120 BPM (sixteenth 125 ms): bar 2 moves a chord a sixteenth later (a variation), or 70 ms (a slip)."""
    ctx = context.resolve(TakeContext(bpm=120, key="E minor", source="cli"), "take.wav")
    groove = timing.Groove()
    bar1 = [0.0, 0.5, 1.0, 1.5]
    varied = _strums([*bar1, 2.0, 2.5 + 0.125, 3.0, 3.5])
    assert timing.findings(varied, ctx, groove) == []
    slipped = timing.findings(_strums([*bar1, 2.0, 2.5 + 0.07, 3.0, 3.5]), ctx, groove)
    assert [round(f.start_s, 2) for f in slipped] == [2.57]


def test_a_chord_whose_first_string_had_no_attack_of_its_own_is_not_timed() -> None:
    """The first string masked (no attack found): the chord's placed onset is a later string's, not the strum's."""
    ctx = context.resolve(TakeContext(bpm=120, key="E minor", source="cli"), "take.wav")
    notes = _strums([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    late = [
        Note(3.5, 3.7, 52, 0.7, 0.9, False),
        Note(3.54, 3.7, 56, 0.7, 0.9, True),
        Note(3.55, 3.7, 59, 0.7, 0.9, True),
    ]
    assert timing.findings(notes + late, ctx, timing.Groove()) == []
    placed_late = [Note(3.54, 3.7, p, 0.7, 0.9, True) for p in (52, 56, 59)]
    assert [round(f.start_s, 2) for f in timing.findings(notes + placed_late, ctx, timing.Groove())] == [3.54]


def test_a_library_of_both_feels_leaves_an_off_beats_swing_to_the_take() -> None:
    """Two off-beats a third of a sixteenth late are no feel of the take's own (3+ make one): a straight library
    calls them late, a library of swung and straight loops, like the built-in groove, does not."""
    beats = [b * 0.5 for b in range(8)]  # 120 BPM, two bars of quarter notes on the grid
    onsets = sorted([*beats, 0.5 + 0.125 + 0.04, 2.5 + 0.125 + 0.04])
    notes = [Note(t, t + 0.1, 40, 0.8, 0.9, True) for t in onsets]
    ctx = context.MusicContext(120.0, "request", None, "default")
    learnt = {"offset_s": [0.0] * 4, "spread_s": [0.006] * 4, "floor_s": 0.033}

    def late(swung_share: float | None) -> list[float]:
        groove = timing.Groove.from_calibration({"groove": {**learnt, "swung_share": swung_share}})
        return [round(f.start_s, 3) for f in timing.findings(notes, ctx, groove)]

    assert late(0.0) == [0.665, 2.665]
    assert late(None) == [0.665, 2.665]  # a calibration from before it recorded the feels: as it was
    assert late(0.5) == []
    assert timing.findings(notes, ctx, timing.Groove()) == []


def test_a_notes_treble_is_measured_only_until_the_next_attack_even_one_not_placed() -> None:
    """A slap's thwack 150 ms into a plain note would read as the note's rattle."""
    sr = 48_000
    t = np.arange(int(0.6 * sr)) / sr
    y = 0.5 * np.sin(2 * np.pi * 110 * t) * np.exp(-t / 0.8)
    k = int(0.15 * sr)
    y[k : k + 200] += np.random.default_rng(0).uniform(-0.8, 0.8, 200)
    first = Note(0.0, 0.5, 45, 0.7, 0.9, True)
    unplaced = Note(0.155, 0.5, 47, 0.6, 0.8, False)
    evts = timing.events([first, unplaced])
    assert len(evts) == 1  # the unplaced note is no event of its own
    alone = buzz.treble_noise_db(y, sr, evts)[0]
    until_next = buzz.treble_noise_db(y, sr, evts, [first, unplaced])[0]
    assert until_next < alone - 20


def test_a_rattles_spurious_faint_onset_does_not_cut_its_notes_treble_short() -> None:
    """The model often hears a rattle as a faint new note right after the attack; only a note it is sure of is the
    next attack."""
    sr = 48_000
    t = np.arange(int(0.6 * sr)) / sr
    clean = 0.5 * np.sin(2 * np.pi * 110 * t) * np.exp(-t / 0.8)
    hiss = np.random.default_rng(0).standard_normal(t.size) * 0.05 * (t > 0.03)
    first = Note(0.0, 0.5, 45, 0.7, 0.9, True)
    evts = timing.events([first])

    def level(y: np.ndarray, confidence: float) -> float:
        return float(buzz.treble_noise_db(y, sr, evts, [first, Note(0.06, 0.2, 64, 0.4, confidence, False)])[0])

    assert level(clean + hiss, 0.45) > level(clean, 0.45) + 20  # measured over the note, the rattle is heard
    assert np.isnan(level(clean + hiss, context.SURE))  # a sure note 60 ms on leaves too little to measure


@pytest.mark.parametrize(("instrument", "style"), [("bass", "slap"), ("bass", "finger"), ("guitar", "clean")])
def test_a_note_outside_the_key_is_named(instrument: str, style: str) -> None:
    part = synth.make_part(6, instrument=instrument, style=style, bpm=96, bars=2, swing=0.0)
    clean, _ = _judge(part, 30, None)
    assert not [f for f in clean.findings if f.kind == "wrong_note"], clean.findings
    wrong, info = _judge(part, 31, "wrong_note")
    found = [f for f in wrong.findings if f.kind == "wrong_note"]
    assert found, wrong.findings
    assert any(abs(f.start_s - info.start_s) < 0.05 and f.message.endswith(f"is outside {part.key}") for f in found)


def test_a_buzzing_note_is_found_and_a_distorted_take_is_not_buzz() -> None:
    part = synth.make_part(10, instrument="guitar", style="distorted", bpm=100, bars=2, swing=0.0)
    clean, _ = _judge(part, 40, None)
    assert not [f for f in clean.findings if f.kind == "buzz"]
    buzzing, info = _judge(part, 41, "buzz", strength=1.0)
    found = [f for f in buzzing.findings if f.kind == "buzz"]
    assert found
    assert abs(found[0].start_s - info.start_s) < 0.06


def test_check_tells_which_note_where_and_by_how_much(tmp_path, capsys) -> None:
    part = synth.make_part(3, instrument="bass", style="finger", bpm=120, bars=2, swing=0.0, scale="minor")
    loop, _info = synth.play_part(part, 21, defect="timing_slip", strength=0.3)  # ~57 ms, under half a sixteenth
    name = f"bass_120bpm_{part.key.split()[0]}m.wav"
    sf.write(tmp_path / name, loop.samples, loop.sample_rate, subtype="PCM_24")
    assert main(["check", str(tmp_path / name)]) == 1
    out = capsys.readouterr().out
    assert f"judged at 120.0 BPM (name), {part.key} (name)" in out
    assert "timing" in out
    assert "ms " in out
    assert "(bar " in out


def test_musical_checks_join_run_checks_when_context_is_known_and_say_which() -> None:
    part = synth.make_part(6, instrument="guitar", style="clean", bpm=96, bars=2, swing=0.0)
    loop, _info = synth.play_part(part, 31, defect="wrong_note")
    native = _native(loop)
    assert not [f for f in checks.run_checks(native) if f.kind == "wrong_note"]  # nothing known: not judged
    report = checks.check_take(native, context=TakeContext(bpm=part.bpm, key=part.key, source="request"))
    assert "wrong_note" in [f.kind for f in report.findings]
    assert report.music == {
        "bpm": round(part.bpm, 2),
        "bpm_from": "request",
        "key": part.key,
        "key_from": "request",
        "meter": "4/4",
        "meter_from": "default",
    }


def test_siblings_make_a_slip_stand_out(tmp_path) -> None:
    part = synth.make_part(8, instrument="bass", style="slap", bpm=110, bars=2, swing=0.0)
    paths = []
    for k in range(3):
        loop, _ = synth.play_part(part, 50 + k)
        paths.append(str(tmp_path / f"earlier_{k}.wav"))
        sf.write(paths[-1], loop.samples, loop.sample_rate)
    loop, _info = synth.play_part(part, 60, defect="timing_slip", strength=0.8)
    sf.write(tmp_path / "new.wav", loop.samples, loop.sample_rate)
    ctx = TakeContext(siblings=tuple(paths), source="request")
    found = checks.run_checks(read_native(tmp_path / "new.wav"), context=ctx)
    timing = [f for f in found if f.kind == "timing"]
    assert timing
    assert "the other takes" in timing[0].message


def test_a_takes_own_slip_joins_the_comparison_unless_its_siblings_play_it_too() -> None:
    """The grid's and the take's bars' timing findings count beside the siblings' comparison, except where most
    siblings play the note at the same place (then it is the part's)."""
    part = synth.make_part(4, instrument="guitar", style="clean", bpm=90, bars=2, swing=0.0)
    ctx = context.resolve(TakeContext(bpm=part.bpm, key=part.key, source="cli"), "take.wav")

    def take(seed: int, defect: str | None = None) -> compare.Take:
        loop, _ = synth.play_part(part, seed, defect=defect, strength=0.61)
        return compare.Take(f"t{seed}.wav", transcribe(loop.samples, 48_000), loop.samples, 48_000)

    slipped = take(5, "timing_slip")
    own = timing.findings(slipped.notes, ctx, timing.Groove())
    assert own
    assert compare.not_shared(own, slipped, [take(1), take(2), take(3)]) == own
    assert compare.not_shared(own, slipped, [take(5, "timing_slip"), take(5, "timing_slip"), take(2)]) == []


def test_an_estimated_key_is_not_judged_by_default_only_with_musical() -> None:
    """A name with only a tempo: the default decision says the key is unknown and judges no note against a guess."""
    part = synth.make_part(6, instrument="guitar", style="clean", bpm=96, bars=2, swing=0.0)
    loop, _info = synth.play_part(part, 31, defect="wrong_note")
    native = _native(loop)
    default = analyse(native, TakeContext(bpm=part.bpm, source="cli"))
    assert default.context.key is None
    assert default.context.key_from == "unknown"
    assert not [f for f in default.findings if f.kind == "wrong_note"]
    musical = analyse(native, TakeContext(bpm=part.bpm, source="cli"), estimate=True)
    assert musical.context.key_from == "estimate"


def test_an_estimated_key_judges_a_note_against_every_key_the_take_allows() -> None:
    """A line on A C D E G (twice) fits A minor, C, G and F major, E and D minor: a lone F# is G major's or E
    minor's, not a slip, though the estimate says C major; a lone G# sits in none of them. A G# the part comes
    back to makes it chromatic (no key holds it all): the part's own note, not flagged. Known keys judge as before."""

    def line(*extra: tuple[float, int]) -> list[Note]:
        played = [(0.5 * i, p) for i, p in enumerate([45, 48, 50, 52, 55] * 2)] + list(extra)
        return [Note(t, t + 0.4, p, 0.7, 0.9, True) for t, p in played]

    def wrong(notes: list[Note], key: str | None = None) -> list[str]:
        ctx = context.resolve(TakeContext(key=key, source="cli") if key else None, "take.wav", notes)
        return [f.message for f in wrong_notes.findings(notes, ctx)]

    lone_fsharp = line((5.0, 54))
    estimated = context.resolve(None, "take.wav", lone_fsharp)
    assert (str(estimated.key), estimated.key_from) == ("C major", "estimate")
    held = {str(k) for k in (estimated.key, *estimated.key_alternatives)}
    assert held == {"A minor", "C major", "G major", "F major", "E minor", "D minor"}
    assert wrong(lone_fsharp) == []
    assert wrong(lone_fsharp, "C major") == ["F# at 5.00 s is outside C major"]
    assert estimated.known().key_alternatives == ()  # the default decision judges no note against a guess
    assert wrong(line((5.0, 56))) == ["G# at 5.00 s is outside every key this take suggests (C major, estimated)"]
    recurring = line((5.0, 56), (5.5, 56))
    assert context.resolve(None, "take.wav", recurring).key_alternatives == ()
    assert wrong(recurring) == []
    assert len(wrong(recurring, "A minor")) == 2


def test_a_power_chords_fifth_is_not_a_wrong_note_but_a_wrong_root_is() -> None:
    """On E major's 7th degree (D#) a power chord's fifth is A#, outside the scale: the player's shape, not a slip."""
    ctx = context.resolve(TakeContext(bpm=120, key="E major", source="cli"), "take.wav")

    def chord(*pitches: int) -> list[Note]:
        return [Note(1.0, 1.4, p, 0.7, 0.9, True) for p in pitches]

    assert wrong_notes.findings(chord(63, 70), ctx) == []  # D# + A#
    assert wrong_notes.findings(chord(63, 58), ctx) == []  # the model hears the fifth an octave low
    wrong_root = wrong_notes.findings(chord(62, 69), ctx)  # D + A: D is outside E major, A is its fifth
    assert [f.message.split(" at ")[0] for f in wrong_root] == ["D"]
    triad = wrong_notes.findings(chord(64, 68, 70), ctx)  # E, G#, A#: a triad's wrong string stays wrong
    assert [f.message.split(" at ")[0] for f in triad] == ["A#"]
    # distorted, the fifth's third harmonic (E#, a twelfth above A#) is heard too, softer (a rendered take's:
    # velocity 0.32 against its fifth's 0.45): still the shape
    overtone = Note(1.0, 1.4, 77, 0.3, 0.8, True)
    assert wrong_notes.findings([*chord(63, 70), overtone], ctx) == []
    # as loud as the fifth it is a string of its own: three pitch classes, a chord with a wrong note
    struck = wrong_notes.findings([*chord(63, 70), replace(overtone, velocity=0.7)], ctx)
    assert [f.message.split(" at ")[0] for f in struck] == ["A#", "F"]
