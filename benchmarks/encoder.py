"""Per-clip latency: laion-clap's PyTorch forward vs loopbridge's ONNX Runtime encoder (fp32, int8).

Same run, same machine, same thread count on both sides; random weights (speed does not depend on
them). Also the front-end (load + resample + mel) and the int8 encoder's drift on synthetic loops.

    python benchmarks/encoder.py [--threads 2] [--reps 5] [--preset clap-htsat-fused]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # random O(1)-gain weights


def median_ms(fn: Callable[[], object], reps: int) -> float:
    return interleaved_ms({"fn": fn}, reps)["fn"]


def interleaved_ms(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median ms per call, the contenders taking turns each round so a busy machine slows all alike.

    Each turn starts with one untimed call: torch's OpenMP workers keep spinning for a while after a
    forward pass, and without it ONNX Runtime's timed call would pay for torch's spin (measured: +10–40 ms).
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(reps):
        for name, fn in fns.items():
            fn()  # settle: let the previous contender's threads go idle on our time, not the measurement's
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def loops(seconds: float, count: int) -> list[np.ndarray]:
    """Real-looking audio: synthetic bass/guitar loops, tiled or cut to the wanted length."""
    from loopbridge.synth import make_loop

    out = []
    for seed in range(count):
        y = make_loop(seed).samples.astype(np.float32)
        n = int(seconds * 48_000)
        out.append(np.resize(y, n) if len(y) < n else y[:n])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--preset", default="clap-htsat-fused", choices=["clap-htsat-fused"])
    args = ap.parse_args()
    os.environ["LOOPBRIDGE_THREADS"] = str(args.threads)
    os.environ["LOOPBRIDGE_PROVIDER"] = "cpu"

    import soundfile as sf
    import torch
    from helpers_clap import random_tower

    from loopbridge import audio, features
    from loopbridge.encoders import make_session
    from loopbridge.export.encoder_export import export_tower

    torch.set_num_threads(args.threads)
    tower = random_tower(args.preset)
    workdir = tempfile.TemporaryDirectory(prefix="loopbridge-bench-encoder-")  # removed when the run ends
    tmp = Path(workdir.name)
    sessions = {}
    for name, int8 in (("onnx fp32", False), ("onnx int8", True)):
        path = export_tower(tower, tmp / f"{name[-4:]}.onnx", checkpoint_sha256="-", random_weights=True, int8=int8)
        sessions[name] = make_session(path)

    busy = os.getloadavg()[0]
    print(
        f"\n## {args.preset}: ms per clip, median of {args.reps} interleaved rounds (batch 8: "
        f"{max(3, args.reps // 2)}), {args.threads} threads each side, CPU ({os.cpu_count()} cores, load "
        f"{busy:.1f} at start), RANDOM weights, torch {torch.__version__}\n"
    )
    print("| clip | batch | laion-clap torch | onnx fp32 | int8 | fp32/torch | int8/torch |")
    print("|---|---|---|---|---|---|---|")
    for seconds in (4.0, 10.0, 25.0):
        for batch in (1, 8):
            inputs = features.batch([features.fusion_input(y) for y in loops(seconds, batch)])
            feed = {"mel_fusion": inputs["mel_fusion"], "longer": inputs["longer"]}
            as_torch = {k: torch.from_numpy(v) for k, v in feed.items()}
            reps = args.reps if batch == 1 else max(3, args.reps // 2)
            contenders: dict[str, Callable[[], object]] = {"torch": partial(tower.reference_embedding, as_torch)}
            contenders.update({name: partial(session.run, ["embedding"], feed) for name, session in sessions.items()})
            ms = {name: t / batch for name, t in interleaved_ms(contenders, reps).items()}
            print(
                f"| {seconds:g} s | {batch} | {ms['torch']:.0f} | {ms['onnx fp32']:.0f} | {ms['onnx int8']:.0f} "
                f"| {ms['onnx fp32'] / ms['torch']:.2f} | {ms['onnx int8'] / ms['torch']:.2f} |"
            )

    print("\n## front-end: ms per file (44.1 kHz stereo 24-bit WAV → 48 kHz mono → fusion log-mel)\n")
    print("| clip | load + resample | mel + fusion views | total |")
    print("|---|---|---|---|")
    for seconds in (4.0, 10.0, 25.0):
        y = loops(seconds, 1)[0]
        path = tmp / f"take{seconds:g}.wav"
        sf.write(path, np.stack([y, 0.9 * y], axis=1), 44_100, subtype="PCM_24")
        load = median_ms(partial(audio.load, path), args.reps)
        samples = audio.load(path).samples
        mel = median_ms(partial(features.fusion_input, samples), args.reps)
        print(f"| {seconds:g} s | {load:.1f} | {mel:.1f} | {load + mel:.1f} |")

    clips = [y for seconds in (3.0, 8.0, 25.0) for y in loops(seconds, 4)]
    inputs = features.batch([features.fusion_input(y) for y in clips])
    feed = {"mel_fusion": inputs["mel_fusion"], "longer": inputs["longer"]}
    fp32 = sessions["onnx fp32"].run(["embedding"], feed)[0]
    q = sessions["onnx int8"].run(["embedding"], feed)[0]
    cosine = (fp32 * q).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(q, axis=1)
    print(
        f"\nint8 vs fp32 embedding cosine on {len(clips)} synthetic loops (3/8/25 s, random weights): "
        f"min {cosine.min():.5f}, mean {cosine.mean():.5f}"
    )
    sizes = {p.name: p.stat().st_size / 1e6 for p in tmp.glob("*.onnx")}
    print("file sizes: " + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
