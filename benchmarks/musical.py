"""Musical checks on rendered takes: AUROC and detection per kind, clean false flags, cost — per setting.

Each part (bass line or strummed chords, straight or swung, loopbridge.synth.make_part) is played 3 times
cleanly as "earlier takes", then once clean and once with each fault (timing slip 30–120 ms, wrong note a
semitone out of the key, buzz 80–700 ms; strength drawn 0.2–1). Settings:

  no context        nothing known: tempo from the loop's length and onsets, key from the notes (`--musical` only;
                    the default decision never judges against an estimate)
  tempo+key         the song's tempo and key given (as Live sends them)
  +calibration      the same, with a calibration learnt (export/music_calibration) from the other parts' takes
  3 earlier takes   tempo and key, plus the part's 3 earlier takes as siblings

AUROC per kind: the take's worst finding of that kind (severity, 0 when none) on faulty vs clean takes.
Detected: the faulty take is flagged by a musical reason. Clean flagged: a clean take with any musical reason
(every musical reason flags: what is under its limit is not reported).

    .venv/bin/python benchmarks/musical.py [--parts 24] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from loopbridge import synth
from loopbridge.audio import read_native
from loopbridge.context import TakeContext
from loopbridge.export import music_calibration
from loopbridge.music import judge, model

KINDS = {"timing_slip": ("timing",), "wrong_note": ("wrong_note",), "buzz": ("buzz",)}
STYLES = [("bass", "finger"), ("bass", "slap"), ("guitar", "clean"), ("guitar", "palm_muted"), ("guitar", "distorted")]


def auroc(neg: list[float], pos: list[float]) -> float:
    """Mann–Whitney: the chance a faulty take scores above a clean one (ties count half)."""
    n, p = np.asarray(neg), np.asarray(pos)
    if not n.size or not p.size:
        return float("nan")
    return float(((p[:, None] > n[None, :]).sum() + 0.5 * (p[:, None] == n[None, :]).sum()) / (n.size * p.size))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render(folder: Path, parts: int, seed: int) -> list[dict]:
    """Write every take; returns one record per part."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(parts):
        instrument, style = STYLES[i % len(STYLES)]
        part = synth.make_part(rng, instrument=instrument, style=style, bars=2, swing=float(rng.choice([0.0, 1.0])))
        rec: dict = {"part": part, "earlier": [], "tests": []}
        for k in range(3):
            loop, _ = synth.play_part(part, rng)
            key = part.key.replace(" ", "_").replace("#", "sharp")  # a library names tempo and key, as packs do
            path = folder / f"p{i:02d}_{round(part.bpm)}bpm_{key}_earlier{k}.wav"
            sf.write(path, loop.samples, loop.sample_rate, subtype="PCM_24")
            rec["earlier"].append(str(path))
        for label in ("clean", *KINDS):
            loop, _ = synth.play_part(
                part, rng, defect=None if label == "clean" else label, strength=float(rng.uniform(0.2, 1.0))
            )
            path = folder / f"p{i:02d}_{label}.wav"
            sf.write(path, loop.samples, loop.sample_rate, subtype="PCM_24")
            rec["tests"].append((label, str(path)))
        out.append(rec)
    return out


def run_setting(records: list[dict], setting: str, calibrations: list[dict | None]) -> tuple[dict, float, float]:
    scores: dict[str, dict[str, list[float]]] = {k: {"clean": [], "fault": []} for k in KINDS}
    flagged: dict[str, list[bool]] = {k: [] for k in ("clean", *KINDS)}
    clean_by: dict[str, int] = {}
    seconds = audio_s = 0.0
    for rec, cal in zip(records, calibrations, strict=True):
        part = rec["part"]
        for label, path in rec["tests"]:
            native = read_native(path)
            if setting == "no context":
                ctx = None
            elif setting == "3 earlier takes":
                ctx = TakeContext(bpm=part.bpm, key=part.key, siblings=tuple(rec["earlier"]), source="request")
            else:
                ctx = TakeContext(bpm=part.bpm, key=part.key, source="request")
            t0 = time.perf_counter()
            report = judge(native, ctx, cal, estimate=setting == "no context")  # as `--musical`, else the default
            seconds += time.perf_counter() - t0
            audio_s += native.duration_s
            found = report.findings if report else []
            flagged[label].append(bool(found))
            if label == "clean":
                for kind in {f.kind for f in found}:
                    clean_by[kind] = clean_by.get(kind, 0) + 1
            for kind, names in KINDS.items():
                s = max((f.severity for f in found if f.kind in names), default=0.0)
                if label == "clean":
                    scores[kind]["clean"].append(s)
                elif label == kind:
                    scores[kind]["fault"].append(s)
    row = {k: (auroc(v["clean"], v["fault"]), float(np.mean(flagged[k]))) for k, v in scores.items()}
    run_setting.clean_by = clean_by  # type: ignore[attr-defined]
    return row, float(np.mean(flagged["clean"])), 1000.0 * seconds / max(audio_s, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--settings", default="no context,tempo+key,+calibration,3 earlier takes", help="comma-separated")
    args = ap.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores; the machine may be busy with other work)")
    t0 = time.perf_counter()
    model.warm_up()
    print(f"note model session and first run: {time.perf_counter() - t0:.2f} s (once per process)")
    with tempfile.TemporaryDirectory() as tmp:
        records = render(Path(tmp), args.parts, args.seed)
        # two folds: a part is judged with the calibration learnt from the other half's earlier takes
        folds = [[p for r in records[f::2] for p in r["earlier"]] for f in (0, 1)]
        t0 = time.perf_counter()
        learnt = [music_calibration.calibrate(folds[f], progress=False) for f in (0, 1)]
        print(f"calibration: {sum(map(len, folds))} loops in {time.perf_counter() - t0:.1f} s")
        cals = [learnt[1 - i % 2] for i in range(len(records))]
        n_takes = len(records)
        print(f"{n_takes} parts, {n_takes} clean takes and {n_takes} of each fault per setting\n")
        print(
            "| setting | timing slip AUROC / detected | wrong note AUROC / detected | buzz AUROC / detected "
            "| clean flagged | ms per s of audio |"
        )
        print("|---|---|---|---|---|---|")
        for setting in args.settings.split(","):
            use = cals if setting in ("+calibration", "3 earlier takes") else [None] * len(records)
            row, clean, ms = run_setting(records, setting, use)
            cells = " | ".join(f"{a:.2f} / {d:.0%}" for a, d in row.values())
            by = ", ".join(f"{k} {v}" for k, v in sorted(run_setting.clean_by.items()))  # type: ignore[attr-defined]
            print(f"| {setting} | {cells} | {clean:.0%} ({by or 'none'}) | {ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
