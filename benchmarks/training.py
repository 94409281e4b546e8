"""Wall time of `loopbridge fit` as a user runs it, and the held-out AUROC of every head it trains.

    python benchmarks/training.py [--label after] [--results results.json] [--only embeddings|audio]

Two workloads, each through the real CLI in a fresh LOOPBRIDGE_HOME (empty embedding cache):
- `fit --embeddings` on 276 × 1024 synthetic embeddings shaped like real CLAP ones (unit norm, a few
  clusters on a low-rank subspace), every head;
- `fit` on 300 synthetic audio loops with `--encoder mel-stats`, every head, including embedding and the
  checks' calibration.
AUROC: held-out normals (same generator, other seed) vs anomalies (embeddings pushed off the subspace;
defective loops from `loopbridge.synth`), scored by the saved bundle. To compare two versions of the code,
run this once per version with the same --results file (e.g. `PYTHONPATH=<other checkout>` for the
"before" run): the table then shows every label recorded there side by side.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

import loopbridge
from loopbridge.bundle import Bundle
from loopbridge.embedding import embed_files
from loopbridge.encoders import Encoder
from loopbridge.synth import write_library

N_TRAIN, DIM = 276, 1024


def synthetic_embeddings(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, held-out normals, anomalies) near 8 cluster centres on a 24-d subspace, about unit variance per
    coordinate. (Scaled to unit norm instead, the Deep SVDD validation loss rises from the first epoch and early
    stopping ends training at epoch 21; at this scale it creeps down for hundreds of epochs, as the issue reports
    for real CLAP embeddings.)"""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(DIM, 64)))[0].T  # orthonormal rows
    centres = rng.normal(size=(8, 24)) * 1.0

    def draw(n: int, off: float) -> np.ndarray:
        z = centres[rng.integers(0, 8, n)] + 0.5 * rng.normal(size=(n, 24))
        x = z @ basis[:24] + off * rng.normal(size=(n, 40)) @ basis[24:] + 0.15 * rng.normal(size=(n, DIM)) / 4
        return (np.sqrt(DIM) * x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return draw(N_TRAIN, 0.1), draw(100, 0.1), draw(100, 0.45)


FIT_EXTRA: list[str] = []  # --fit-args: the same extra `fit` options for every run (e.g. a fixed number of epochs)


def fit_cli(args: list[str], home: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `loopbridge fit` run in its own process (imports included, as a user waits).
    CPU time (user + system) is what to compare on a shared machine: wall time there mostly measures the others."""
    env = {**os.environ, "LOOPBRIDGE_HOME": str(home)}
    before, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-m", "loopbridge", "fit", *args, *FIT_EXTRA, "--no-progress"], env=env, check=True)
    wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def aurocs(bundle_dir: Path, normal: np.ndarray, anomalous: np.ndarray) -> dict[str, float]:
    bundle = Bundle.load(bundle_dir)
    X = np.concatenate([normal, anomalous])
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    return {h: float(roc_auc_score(y, s)) for h, s in bundle.scores(X).items()}


def run_embeddings(tmp: Path, seed: int) -> dict:
    train, held, anomalies = synthetic_embeddings(seed)
    np.save(tmp / "train.npy", train)
    out = tmp / "emb-model"
    wall, cpu = fit_cli(
        ["--embeddings", str(tmp / "train.npy"), "--name", "bench", "--out", str(out)], tmp / "home-emb"
    )
    manifest = json.loads((out / "manifest.json").read_text())
    return {"wall_s": wall, "cpu_s": cpu, "auroc": aurocs(out, held, anomalies), "metrics": _epochs(manifest)}


def run_audio(tmp: Path, seed: int, n_loops: int) -> dict:
    write_library(tmp / "loops", n_clean=n_loops, n_per_defect=0, seed=seed)
    (tmp / "loops" / "labels.csv").unlink()
    (tmp / "loops" / "details.csv").unlink(missing_ok=True)
    labels = write_library(tmp / "held", n_clean=60, n_per_defect=8, seed=seed + 1)
    out = tmp / "audio-model"
    home = tmp / "home-audio"
    wall, cpu = fit_cli([str(tmp / "loops"), "--encoder", "mel-stats", "--name", "bench", "--out", str(out)], home)
    os.environ["LOOPBRIDGE_HOME"] = str(home)
    rows = list(csv.DictReader(labels.open()))
    emb, _ = embed_files([labels.parent / r["file"] for r in rows], Encoder.open("mel-stats"), progress=False)
    kinds = np.array([r["label"] for r in rows])
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "auroc": aurocs(out, emb.vectors[kinds == "0"], emb.vectors[kinds != "0"]),
        "metrics": _epochs(manifest),
    }


def _epochs(manifest: dict) -> dict[str, str]:
    m = {h: s["metrics"] for h, s in manifest["heads"].items()}
    return {h: f"{v['epochs_pretrain']}+{v['epochs_svdd']}" for h, v in m.items() if "epochs_svdd" in v}


def table(results: dict[str, dict]) -> str:
    labels = list(results)
    lines = []
    for workload in ("embeddings", "audio"):
        runs = {lab: results[lab][workload] for lab in labels if workload in results[lab]}
        if not runs:
            continue
        title = (
            f"fit --embeddings, {N_TRAIN} x {DIM}, every head"
            if workload == "embeddings"
            else "fit on audio loops (mel-stats), every head, incl. embedding + checks calibration"
        )
        lines += [f"\n{title}", "| | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
        lines.append("| wall s | " + " | ".join(f"{r['wall_s']:.1f}" for r in runs.values()) + " |")
        lines.append(
            "| CPU s (user+sys) | " + " | ".join(f"{r.get('cpu_s', float('nan')):.1f}" for r in runs.values()) + " |"
        )
        heads = next(iter(runs.values()))["auroc"]
        for h in heads:
            cells = [f"{r['auroc'].get(h, float('nan')):.3f}" for r in runs.values()]
            lines.append(f"| AUROC {h} | " + " | ".join(cells) + " |")
        for h in next(iter(runs.values()))["metrics"]:
            lines.append(f"| epochs {h} | " + " | ".join(r["metrics"].get(h, "") for r in runs.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--results", type=Path, help="JSON file to add this run to (and print every run in it)")
    ap.add_argument("--only", choices=("embeddings", "audio"))
    ap.add_argument("--loops", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--fit-args",
        default="",
        help="extra fit options, e.g. '--epochs 30 --patience 1000' to compare the cost of a fixed number of epochs",
    )
    args = ap.parse_args()
    FIT_EXTRA[:] = args.fit_args.split()

    load = os.getloadavg()[0]
    print(f"loopbridge from {Path(loopbridge.__file__).parent}; load average {load:.1f} on {os.cpu_count()} CPUs")
    run: dict = {"load_before": load}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "embeddings"):
            (Path(tmp) / "e").mkdir()
            run["embeddings"] = run_embeddings(Path(tmp) / "e", args.seed)
        if args.only in (None, "audio"):
            (Path(tmp) / "a").mkdir()
            run["audio"] = run_audio(Path(tmp) / "a", args.seed, args.loops)
    run["load_after"] = os.getloadavg()[0]
    results = json.loads(args.results.read_text()) if args.results and args.results.exists() else {}
    results[args.label] = run
    if args.results:
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(
        "\nload average (1 min) before/after each run: "
        + ", ".join(f"{lab}: {r['load_before']:.1f}/{r['load_after']:.1f}" for lab, r in results.items())
    )


if __name__ == "__main__":
    main()
