"""Peak memory (RSS) of scoring one long take: decode, technical checks, mel-stats encoder, whole `score_clips`.

Each stage runs in a fresh process, so its peak is its own: `python benchmarks/memory.py [--minutes 30]`.
Prints a table; the machine may be busy (peaks are memory, not time, so that matters little).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

STAGES = (
    "python + imports",
    "whole file: decode",
    "whole file: decode + checks",
    "whole file: decode + encoder",
    "Scorer.score_files (blocks)",
)


def write_take(path: Path, minutes: float, sr: int = 44_100) -> None:
    """A stereo 24-bit take written block by block (this script itself must not hold it)."""
    rng = np.random.default_rng(0)
    block = sr * 10
    with sf.SoundFile(str(path), "w", sr, 2, "PCM_24") as f:
        for start in range(0, int(minutes * 60 * sr), block):
            t = (start + np.arange(block)) / sr
            y = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.01 * rng.standard_normal(block)
            f.write(np.stack([y, y], axis=1).astype(np.float32))


def fit_model(folder: Path) -> None:
    """A small real bundle (mel-stats, kNN) beside the take, as `loopbridge fit` writes it."""
    from loopbridge import audio, checks
    from loopbridge.encoders import Encoder
    from loopbridge.export.fit import FitOptions, encoder_ref, fit_heads, save_bundle

    rng = np.random.default_rng(1)
    clips = []
    for i in range(12):
        t = np.arange(48_000 * 2) / 48_000
        y = (0.3 * np.sin(2 * np.pi * 110 * (1 + i % 4 / 4) * t) + 0.01 * rng.standard_normal(t.size)).astype(
            np.float32
        )
        sf.write(str(folder / f"loop{i}.wav"), y, 48_000)
        clips.append(audio.load(folder / f"loop{i}.wav"))
    encoder = Encoder.open("mel-stats")
    detectors = fit_heads(encoder.embed_clips(clips), FitOptions(heads=("knn",), progress=False))
    save_bundle(
        folder / "model",
        "memory",
        detectors,
        encoder_ref(encoder),
        {"files": 12},
        checks.calibrate(c.native for c in clips),
    )


def stage(name: str, path: str) -> dict:
    from loopbridge import audio, checks
    from loopbridge.encoders import Encoder

    out: dict = {"stage": name}
    if name.startswith("whole"):  # what every take went through before blocks
        clip = audio.load(path, max_seconds=1e6)
        if "checks" in name:
            checks.run_checks(clip.native)
        if "encoder" in name:
            Encoder.open("mel-stats").embed_clips([clip])
    elif name.startswith("Scorer"):
        from loopbridge.pipeline import Scorer

        (result,), _ = Scorer(str(Path(path).parent / "model")).score_files([path], max_seconds=1e6)
        out["duration_s"] = result.duration_s
    out["peak_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's own peak: VmHWM on Linux (ru_maxrss there keeps the parent's peak across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 2**20 if sys.platform == "darwin" else 2**10  # ru_maxrss is bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--stage")
    ap.add_argument("--path")
    args = ap.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, args.path)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long take.wav"
        write_take(path, args.minutes)
        fit_model(Path(tmp))
        size = path.stat().st_size / 2**20
        print(f"take: {args.minutes:g} min, stereo 44.1 kHz 24-bit WAV, {size:.0f} MB on disk (machine may be busy)")
        print(f"{'stage':<30} {'peak RSS MB':>12}")
        for name in STAGES:
            run = subprocess.run(
                [sys.executable, __file__, "--stage", name, "--path", str(path)], capture_output=True, text=True
            )
            if run.returncode:
                print(f"{name:<30} failed: {run.stderr.strip().splitlines()[-1]}")
                continue
            row = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{name:<30} {row['peak_mb']:>12.0f}")


if __name__ == "__main__":
    main()
