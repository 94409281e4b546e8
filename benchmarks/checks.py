"""Technical checks: run time per 8 s take, and how well they catch each generated defect.

    python benchmarks/checks.py [--clean 100] [--per-defect 20] [--seed 0] [--channels 1]

Writes a labelled library with loopbridge.synth (24-bit WAV), reads every file back through
read_native, and prints three tables: milliseconds per check family (the arrays several checks share
are timed apart, so the columns add up); per defect kind the share of takes flagged, AUROC of
check_score (the worst finding's severity, 0 when nothing is found), AUROC of the continuous margin of
the one check meant for that defect, and how often another check's reason comes with it (clean loops
flagged = false alarms); whether hum at a loop's seam is mistaken for a cut (and hides a real one); and,
calibrated on a library of clean loops, per defect kind the share caught at three strengths (subtle, mid,
gross) and the share of held-out clean loops flagged, with built-in and with calibrated limits.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from loopbridge import checks, synth
from loopbridge.audio import NativeAudio, read_native
from loopbridge.checks.take import Take

SHARED = ("abs", "peaks", "block_peaks", "block_sums", "env", "loud", "d2")  # Take's arrays that several checks reuse


def timing_table(repeats: int = 20) -> list[str]:
    names = [f.__name__.rsplit(".", 1)[1] for f in checks.FAMILIES]
    rows = ["| take | shared arrays | " + " | ".join(names) + " | all checks (ms) |"]
    rows.append("|" + "---|" * (len(checks.FAMILIES) + 3))
    for sr, channels in ((44_100, 2), (48_000, 1)):
        loop = synth.make_loop(1, bpm=120, bars=4, sr=sr, channels=channels)  # 4 bars at 120 BPM = 8 s
        native = NativeAudio("bench", loop.samples.reshape(loop.samples.shape[0], -1), sr, "PCM_24")
        shared = _best_ms(lambda _, n=native: _prepared(n), repeats)
        # each family on a take whose shared arrays are already there: the columns add up to the total
        per_family = [_best_ms(f.measure, repeats, lambda n=native: _prepared(n)) for f in checks.FAMILIES]
        total = _best_ms(lambda _, n=native: checks.run_checks(n), repeats)
        cells = " | ".join(f"{t:.2f}" for t in per_family)
        rows.append(
            f"| {loop.duration_s:.0f} s {sr / 1000:g} kHz {'stereo' if channels == 2 else 'mono'} | {shared:.2f} | {cells} | {total:.2f} |"
        )
    return rows


def _prepared(native: NativeAudio) -> Take:
    take = Take(native)
    for name in SHARED:
        getattr(take, name)
    return take


def _best_ms(fn, repeats: int, setup=None) -> float:
    """Best of `repeats` in CPU time of this process: on a shared machine wall time mostly measures the others."""
    times = []
    for _ in range(repeats):
        arg = setup() if setup is not None else None
        t = time.process_time()
        fn(arg)
        times.append(time.process_time() - t)
    return 1000 * float(np.min(times))


# which check should catch which generated defect (musical defects have none: that is the heads' job)
OWN_CHECK = {
    "click": "click",
    "clipping": "clipping",
    "dropout": "dropout",
    "dc_offset": "dc_offset",
    "polarity": "polarity",
    "truncation": "truncation",
    "hum": "noise",
    "hiss": "noise",
    "noise_burst": "noise",
    "level": "level",
}


def detection_table(folder: Path, labels: Path) -> tuple[list[str], dict[str, float]]:
    rows = list(csv.DictReader(labels.open()))
    kinds, scores, margins, found = [], [], [], []
    for r in rows:
        findings, m = checks.evaluate(read_native(folder / r["file"]))
        kinds.append(r["label"])
        scores.append(checks.check_score(findings))
        margins.append(m)
        found.append(",".join(sorted({f.kind for f in findings})))
    kinds_a, score_a, found_a = np.array(kinds), np.array(scores), np.array(found)
    flagged = score_a > 0
    normal = kinds_a == synth.NORMAL_LABEL
    out = [
        "| defect | n | flagged | AUROC (check_score) | AUROC (its own check's margin) | with another check's reason | most common reasons |",
        "|---|---|---|---|---|---|---|",
        f"| clean loops | {normal.sum()} | {flagged[normal].mean():.0%} | – | – | – | {_common(found_a[normal & flagged])} |",
    ]
    summary = {}
    for kind in synth.DEFECT_KINDS:
        sel = kinds_a == kind
        if not sel.any():
            continue
        both = normal | sel
        y = sel[both].astype(int)
        summary[kind] = auc = roc_auc_score(y, score_a[both])
        own = OWN_CHECK.get(kind)
        own_auc = f"{roc_auc_score(y, np.array([m[own] for m in margins])[both]):.3f} ({own})" if own else "–"
        # a reason the defect does not explain (e.g. "truncation" on a loop that only hums) misleads the musician
        other = f"{np.mean([bool(set(f.split(',')) - {own, ''}) for f in found_a[sel]]):.0%}" if own else "–"
        out.append(
            f"| {kind} | {sel.sum()} | {flagged[sel].mean():.0%} | {auc:.3f} | {own_auc} | {other} | {_common(found_a[sel & flagged])} |"
        )
    return out, summary


def hum_at_the_seam_table(n: int = 40, seed: int = 0) -> list[str]:
    """Hum does not line up across a loop's seam: it must be reported as hum, and must not hide a real cut."""
    rng = np.random.default_rng(seed)
    rows = [
        "| loops (48 kHz mono, in memory) | n | given a truncation reason | given a noise reason |",
        "|---|---|---|---|",
    ]
    for name, defects in (
        ("hum", ("hum",)),
        ("truncated", ("truncation",)),
        ("truncated, then hum", ("truncation", "hum")),
    ):
        found = []
        for _ in range(n):
            y = synth.make_loop(rng).samples
            for kind in defects:
                y, _ = synth.inject(y, 48_000, kind, rng)
            found.append({f.kind for f in checks.run_checks(NativeAudio("loop", y[:, None], 48_000, "PCM_24"))})
        rows.append(
            f"| {name} | {n} | {np.mean(['truncation' in f for f in found]):.0%} | {np.mean(['noise' in f for f in found]):.0%} |"
        )
    return rows


# defect kind -> (subtle, mid, gross) strength and how it is applied to a stereo (frames, 2) loop
STRENGTHS: dict[str, tuple[tuple[float, float, float], str]] = {
    "dc_offset": ((-46.0, -40.0, -30.0), "DC offset, dBFS"),
    "polarity": ((0.15, 0.4, 1.0), "share of the take with the left channel flipped"),
    "hiss": ((-40.0, -30.0, -20.0), "white noise, dB against the loop's RMS"),
    "noise_burst": ((-20.0, -10.0, 0.0), "100 ms of white noise, dB against the loop's RMS"),
    "dropout": ((3.0, 10.0, 50.0), "ms of digital silence while playing"),
    "click": ((0.02, 0.1, 0.5), "one-sample spike, fraction of the loop's peak"),
    "hum": ((-54.0, -46.0, -36.0), "50 Hz + harmonics, dBFS"),
}


def _apply(y: np.ndarray, sr: int, kind: str, strength: float, rng: np.random.Generator) -> np.ndarray:
    y = y.copy()
    n = y.shape[0]
    rms = float(np.sqrt(np.mean(y**2)))
    at = int(rng.uniform(0.2, 0.6) * n)
    if kind == "dc_offset":
        y += 10 ** (strength / 20)
    elif kind == "polarity":
        length = int(strength * n)
        start = int(rng.uniform(0, n - length)) if length < n else 0
        y[start : start + length, 0] *= -1.0
    elif kind == "hiss":
        y += rms * 10 ** (strength / 20) * rng.standard_normal(y.shape)
    elif kind == "noise_burst":
        m = int(0.1 * sr)
        y[at : at + m] += rms * 10 ** (strength / 20) * rng.standard_normal((m, y.shape[1]))
    elif kind == "dropout":
        env = np.abs(y).max(axis=1)
        playing = np.flatnonzero(env[: int(0.8 * n)] > 0.3 * env.max())
        at = int(rng.choice(playing)) if playing.size else at
        y[at : at + int(strength * sr / 1000)] = 0.0
    elif kind == "click":
        y[at] += strength * np.abs(y).max() * rng.choice([-1.0, 1.0])
    elif kind == "hum":
        t = np.arange(n) / sr
        y += (10 ** (strength / 20) * sum(np.sin(2 * np.pi * 50.0 * k * t) / k for k in (1, 2, 3)) / 1.6)[:, None]
    return y


def strength_table(library: int, held_out: int, per_cell: int, seed: int) -> list[str]:
    """Calibrate on `library` clean stereo 8 s loops; detection by strength and false flags on held-out ones."""
    rng = np.random.default_rng(seed)
    sr = 48_000

    def native(y: np.ndarray) -> NativeAudio:
        return NativeAudio("loop", y.astype(np.float32), sr, "PCM_24")

    def fresh() -> np.ndarray:
        return synth.make_loop(rng, bpm=120, bars=4, sr=sr, channels=2).samples

    calibration = checks.calibrate(native(fresh()) for _ in range(library))
    clean = [native(fresh()) for _ in range(held_out)]
    rows = [
        "| defect (strength unit) | subtle | mid | gross | subtle, calibrated | mid, calibrated | gross, calibrated |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, (levels, unit) in STRENGTHS.items():
        own = OWN_CHECK[kind]
        cells, calibrated = [], []
        for level in levels:
            takes = [native(_apply(fresh(), sr, kind, level, rng)) for _ in range(per_cell)]
            cells.append(np.mean([own in {f.kind for f in checks.run_checks(t)} for t in takes]))
            calibrated.append(np.mean([own in {f.kind for f in checks.run_checks(t, calibration)} for t in takes]))
        strengths = "/".join(f"{v:g}" for v in levels)
        rows.append(f"| {kind} ({unit}: {strengths}) | " + " | ".join(f"{v:.0%}" for v in (*cells, *calibrated)) + " |")
    flagged = [bool(checks.run_checks(c)) for c in clean]
    flagged_cal = [checks.run_checks(c, calibration) for c in clean]
    which = _common(np.array([",".join(sorted({f.kind for f in fs})) for fs in flagged_cal if fs]))
    rows.append(
        f"| held-out clean loops flagged (n={held_out}) | {np.mean(flagged):.0%} | | | "
        f"{np.mean([bool(f) for f in flagged_cal]):.0%} (most often: {which}) | | |"
    )
    return rows


def decision_table(library: int, held_out: int, seed: int) -> list[str]:
    """Clean false flags of the whole decision (kNN OR any check) on held-out clean loops: one budget vs per head."""
    from loopbridge.bundle import Bundle
    from loopbridge.embedding import embed_files
    from loopbridge.encoders import Encoder
    from loopbridge.export import fit
    from loopbridge.pipeline import Scorer

    encoder = Encoder.open("mel-stats")
    rows = [
        "| rule | flagged by head OR checks | by the head | by a check | fit's split on the library |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        lib = synth.write_library(Path(tmp) / "lib", library, 0, seed, channels=2).parent
        new = synth.write_library(Path(tmp) / "new", held_out, 0, seed + 1000, channels=2).parent
        emb, _ = embed_files(sorted(lib.glob("*.wav")), encoder, progress=False)
        for label, false_flags, quantile in (("budget 0.05 (default)", 0.05, 0.95), ("per head q0.95", None, 0.95)):
            opts = fit.FitOptions(heads=("knn",), quantile=quantile, progress=False, seed=seed)
            model = fit.fit_library(emb.vectors, emb.files, opts, false_flags)
            path = fit.save_bundle(
                Path(tmp) / label.split()[0],
                "bench",
                model.detectors,
                fit.encoder_ref(encoder),
                {},
                model.calibration,
                primary=model.primary,
                decision=model.decision,
            )
            results, _ = Scorer(Bundle.load(path), encoder).score_files([new])
            split = model.decision.get("split")
            rows.append(
                f"| {label} | {np.mean([r.flag for r in results]):.1%} | {np.mean([r.head_flag for r in results]):.1%} "
                f"| {np.mean([bool(r.reasons) for r in results]):.1%} | "
                + (f"head alone {split['head_only']:.1%}, checks {split['checks']:.1%}" if split else "–")
                + " |"
            )
    return rows


def _common(values: np.ndarray) -> str:
    if not values.size:
        return "–"
    names, counts = np.unique(values, return_counts=True)
    return names[np.argmax(counts)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clean", type=int, default=100)
    ap.add_argument("--per-defect", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels", type=int, default=1, choices=(1, 2))
    ap.add_argument("--library", type=int, default=100, help="clean loops the strength table calibrates on")
    ap.add_argument("--held-out", type=int, default=60, help="clean loops it counts false flags on")
    ap.add_argument("--per-cell", type=int, default=12, help="takes per defect kind and strength")
    ap.add_argument("--only-strengths", action="store_true", help="print only the strength table")
    ap.add_argument("--only-decision", action="store_true", help="print only the combined decision's false flags")
    args = ap.parse_args()
    if args.only_decision:
        print("\n".join(decision_table(args.library, args.held_out, args.seed)))
        return
    if args.only_strengths:
        print("\n".join(strength_table(args.library, args.held_out, args.per_cell, args.seed)))
        return
    print(
        f"Run time of the checks (CPU ms, best of 20 runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n"
    )
    print("\n".join(timing_table()))
    with tempfile.TemporaryDirectory() as tmp:
        labels = synth.write_library(tmp, args.clean, args.per_defect, args.seed, channels=args.channels)
        table, _ = detection_table(Path(tmp), labels)
    print(
        f"\nDefects caught by the checks alone (default limits; {args.channels}-channel 48 kHz 24-bit loops, seed {args.seed})\n"
    )
    print("\n".join(table))
    print("\nMains hum at the loop seam\n")
    print("\n".join(hum_at_the_seam_table(seed=args.seed)))
    print(
        f"\nDetection by strength (stereo 48 kHz 8 s loops; calibrated on {args.library} clean loops, "
        f"{args.per_cell} takes per cell; check = the one meant for the defect)\n"
    )
    print("\n".join(strength_table(args.library, args.held_out, args.per_cell, args.seed)))
    print(
        f"\nClean false flags of the whole decision (kNN on mel-stats OR any check; fitted on {args.library} clean "
        f"stereo loops, counted on {args.held_out} new ones)\n"
    )
    print("\n".join(decision_table(args.library, args.held_out, args.seed)))


if __name__ == "__main__":
    main()
