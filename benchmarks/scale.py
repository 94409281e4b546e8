"""Files/s of `score` single-process vs `score --engine ray` with 1 and 2 CPU workers, and peak memory per worker.

Generates a library of synth loops (plus a few bad files), fits a small mel-stats model (knn + mahalanobis
heads: no torch), then scores the library: in-process with `Scorer.score_files` (the `score` command's
path), and on a local Ray started for the run with `ray.init(num_cpus=N)`: the CPU-only shape, one actor per
CPU doing decode, checks, encoder and heads. With --split also the GPU shape (CPU decode tasks feeding one encoder
actor), on a GPU declared to Ray only. Ray's files/s is over the whole job (its workers and encoder sessions
starting included) and end to end with `ray.init`; "first result after" is the start-up a longer job amortises
(the first block, up to 8 batches, included). Peak memory is each Ray worker's high-water RSS (VmHWM in /proc),
by role: decode tasks and actors.

A CLAP encoder is measured too when one is installed (`loopbridge encoder fetch|export`) or given with
--clap FILE.onnx; weights cannot be downloaded on every machine, so without one that row says so. Either is
linked into the benchmark's own LOOPBRIDGE_HOME (a temporary folder; the user's home is only read) where
`encoder export` puts it, and the model is fitted with its preset, as a user's is.

    python benchmarks/scale.py [--files 200] [--workers 1,2] [--split] [--clap FILE.onnx]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

BATCH = 16  # files per batch, as the command's default
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def worker_peaks(stop: threading.Event, seen: dict[int, str]) -> None:
    """Remember the busiest title each Ray worker process showed (they rename themselves per task)."""
    while not stop.is_set():
        for pid, title in _ray_processes():
            if "IDLE" not in title:
                seen[pid] = title
        time.sleep(0.2)


def _ray_processes() -> list[tuple[int, str]]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                title = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith("ray::"):
                out.append((int(d.name), title))
    return out


def peak_mib(pid: int) -> float:
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return float("nan")
    return int(m.group(1)) / 1024 if m else float("nan")


def run_single(files: list[str], model: str) -> tuple[float, float]:
    """Files/s of the `score` command's path: steady (model open, encoder warm) and with opening the model."""
    from loopbridge.pipeline import Scorer

    t0 = time.perf_counter()
    scorer = Scorer(model)
    scorer.encoder.warm_up()
    t = time.perf_counter()
    results, failures = scorer.score_files(files)
    n = len(results) + len(failures)
    return n / (time.perf_counter() - t), n / (time.perf_counter() - t0)


def cpu_stage(files: list[str], model: str) -> tuple[float, float, float]:
    """One core's cost of the CPU tasks (hash, decode, resample, checks, front-end) and of the encoder graph,
    ms per file, plus the mean file size in MB: what sizes the CPU side and the input bandwidth of a cluster."""
    import numpy as np

    from loopbridge.pipeline import Scorer
    from loopbridge.scale import stages

    scorer = Scorer(model)
    names = scorer.encoder.input_names
    t = time.perf_counter()
    batch = stages.decode_batch({"path": np.array(files, dtype=object)}, names, scorer.bundle.checks, True, 600.0, None)
    cpu_ms = 1000 * (time.perf_counter() - t) / len(files)
    ok = np.array([not c for c in batch["error_code"]])
    inputs = {k: batch[stages.INPUT_PREFIX + k][ok] for k in names}
    t = time.perf_counter()
    for i in range(0, int(ok.sum()), 16):
        scorer.encoder.embed_inputs({k: v[i : i + 16] for k, v in inputs.items()})
    enc_ms = 1000 * (time.perf_counter() - t) / int(ok.sum())
    return cpu_ms, enc_ms, float(np.mean([os.path.getsize(f) for f in files])) / 1e6


def run_ray(files: list[str], model: str, out: Path, workers: int, gpus: int = 0) -> dict[str, float]:
    """`gpus` declares logical GPUs, so the job takes its GPU shape (decode tasks, then encoder actors) with the
    sessions still on the CPU; 0: the CPU-only shape (one actor per CPU doing everything)."""
    import ray

    from loopbridge.scale import job

    t0 = time.perf_counter()
    ray.init(
        num_cpus=workers, num_gpus=gpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
    )
    seen: dict[int, str] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=worker_peaks, args=(stop, seen), daemon=True)
    watcher.start()
    try:
        summary = job.score(files, model, out, job.Options(batch_size=BATCH))
        stop.set()
        watcher.join()
        peaks: dict[str, float] = {"decode": 0.0, "actor": 0.0}
        for pid, title in seen.items():
            role = "decode" if "decode" in title else "actor" if "MapWorker" in title else None
            if role:
                peaks[role] = max(peaks[role], peak_mib(pid))
    finally:
        ray.shutdown()
    end_to_end = time.perf_counter() - t0
    n = summary.scored + summary.failed
    rates = {"job": n / summary.seconds, "e2e": n / end_to_end}
    return {"files": n, "first": summary.first_result_s, **rates, **peaks}


def install_encoder(onnx: Path) -> str:
    """Link `onnx` where `loopbridge encoder fetch|export` puts its preset, in the benchmark's own home, and return
    the preset: models are fitted with it, so the single process and every Ray worker resolve the installed
    encoder by name, as a user's do (a bundle records the preset, not the file it was fitted from)."""
    from loopbridge import encoders

    preset = encoders.Encoder(onnx).name
    if preset not in encoders.PRESETS:
        raise SystemExit(f"{onnx} is not a loopbridge CLAP export (its preset is {preset!r})")
    dest = encoders.encoder_path(preset)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.symlink_to(onnx.resolve())
    return preset


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--workers", default="1,2", help="Ray CPU counts to measure")
    ap.add_argument("--clap", type=Path, help="a CLAP encoder .onnx (default: the installed one, if any)")
    ap.add_argument(
        "--split",
        action="store_true",
        help="also the GPU shape (CPU decode tasks + one encoder actor) on a logical GPU, for 2+ workers",
    )
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    from helpers_heads import write_loops
    from helpers_scale import write_library

    from loopbridge import encoders
    from loopbridge.cli import main as cli

    installed = encoders.encoder_path(encoders.DEFAULT_ENCODER)  # the user's, before the home below replaces it
    clap = args.clap or (installed if installed.exists() else None)
    tmp = Path(tempfile.mkdtemp(prefix="lbscale"))
    os.environ["LOOPBRIDGE_HOME"] = str(tmp / "home")
    lib = tmp / "lib"
    write_library(lib, args.files)
    write_loops(tmp / "train", 24, seed=50)
    files = [str(p) for p in sorted(lib.rglob("*.wav"))]
    encs = {"mel-stats": "mel-stats"}
    if clap:
        encs["clap"] = install_encoder(clap)
    load = os.getloadavg()[0]
    print(f"{len(files)} files (1–2 s loops at 48 kHz, 4 bad); CPU: {_cpu()}, {os.cpu_count()} cores")
    print(f"load average at start {load:.1f}: a busy shared machine makes every number below smaller\n")
    print(
        "| encoder | engine | files/s (whole job; with ray.init) | first result after "
        "| peak RSS decode worker | peak RSS actor |"
    )
    print("|---|---|---|---|---|---|")
    stage: dict[str, tuple[float, float, float]] = {}
    for label, enc in encs.items():
        fit = ["fit", str(tmp / "train"), "--name", label, "--encoder", enc, "--heads", "knn,mahalanobis"]
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli([*fit, "--no-progress"]) == 0
        steady, e2e = run_single(files, label)
        print(f"| {label} | single process | {steady:.1f} ({e2e:.1f} with opening the model) | | | |", flush=True)
        stage[label] = cpu_stage(files, label)
        runs = [(int(x), 0) for x in args.workers.split(",")]
        runs += [(w, 1) for w, _ in runs if w > 1] if args.split else []
        for w, gpus in runs:
            r = run_ray(files, label, tmp / f"{label}-{w}-{gpus}.parquet", w, gpus)
            shape = ", split: decode tasks + 1 actor (logical GPU)" if gpus else ""
            decode = f"{r['decode']:.0f} MiB" if r["decode"] else "— (no decode tasks)"
            print(
                f"| {label} | Ray, {w} CPU worker{'s' if w > 1 else ''}{shape} | {r['job']:.1f} ({r['e2e']:.1f}) "
                f"| {r['first']:.1f} s | {decode} | {r['actor']:.0f} MiB |",
                flush=True,
            )
    if "clap" not in encs:
        print(
            "| clap | — | not measured: no CLAP encoder here (`loopbridge encoder fetch`, or --clap FILE.onnx) | | | |"
        )
    print("\n| encoder | CPU tasks ms/file (1 core) | encoder graph ms/file (CPU, batch 16) | mean file MB |")
    print("|---|---|---|---|")
    for label, (cpu_ms, enc_ms, mb) in stage.items():
        print(f"| {label} | {cpu_ms:.1f} | {enc_ms:.1f} | {mb:.2f} |")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
