"""Heads with their default (paper) settings on a synthetic library: training time, scoring latency, AUROC.

    python benchmarks/heads.py [--encoder mel-stats] [--clean 120] [--per-defect 6]

Clean loops are split 75/25 into training and held-out normals; AUROC is held-out normals vs every
defective loop, pooled (per-kind numbers: `loopbridge evaluate`). Latency is the head's ONNX graph
alone, median of repeated runs, for one take and for a batch of 64.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from loopbridge.bundle import Bundle
from loopbridge.embedding import embed_files
from loopbridge.encoders import Encoder
from loopbridge.export.fit import HEADS, FitOptions, encoder_ref, fit_heads, save_bundle
from loopbridge.synth import write_library


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="mel-stats")
    ap.add_argument("--clean", type=int, default=120)
    ap.add_argument("--per-defect", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        labels = write_library(Path(tmp) / "lib", n_clean=args.clean, n_per_defect=args.per_defect, seed=args.seed)
        rows = list(csv.DictReader(labels.open()))
        encoder = Encoder.open(args.encoder)
        t = time.perf_counter()
        emb, _ = embed_files([labels.parent / r["file"] for r in rows], encoder, progress=False)
        embed_s = time.perf_counter() - t
        kinds = np.array([r["label"] for r in rows])
        clean = np.flatnonzero(kinds == "0")
        train, held = clean[: int(0.75 * len(clean))], clean[int(0.75 * len(clean)) :]
        defects = np.flatnonzero(kinds != "0")

        t = time.perf_counter()
        fitted = {}
        fit_s = {}
        for head in HEADS:
            t = time.perf_counter()
            fitted.update(fit_heads(emb.vectors[train], FitOptions(heads=(head,), seed=args.seed, progress=False)))
            fit_s[head] = time.perf_counter() - t
        bundle = Bundle.load(save_bundle(Path(tmp) / "model", "bench", fitted, encoder_ref(encoder), {}))

        X = emb.vectors[np.r_[held, defects]]
        y = np.r_[np.zeros(len(held)), np.ones(len(defects))]
        one, batch = emb.vectors[:1], np.repeat(emb.vectors[:8], 8, axis=0)
        print(
            f"encoder {encoder.name} ({encoder.dim}-d) on {encoder.provider}; {len(train)} training loops, "
            f"{len(held)} held-out clean, {len(defects)} defective; embedding took {embed_s:.1f} s"
        )
        print()
        print(
            "| head | fit s | epochs (AE+SVDD) | ONNX ms, 1 take | ONNX ms, 64 takes | AUROC (all defects) | flagged clean | flagged defective |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for head in HEADS:
            det = fitted[head]
            s = bundle.scores(X, [head])[head]
            m = det.metrics
            epochs = f"{m['epochs_pretrain']}+{m['epochs_svdd']}" if "epochs_svdd" in m else "–"
            flagged = s > bundle.thresholds[head]
            print(
                f"| {head} | {fit_s[head]:.1f} | {epochs} | {median_ms(partial(bundle.scores, one, [head]), 200):.3f} | "
                f"{median_ms(partial(bundle.scores, batch, [head]), 50):.3f} | {roc_auc_score(y, s):.3f} | "
                f"{flagged[y == 0].mean():.0%} | {flagged[y == 1].mean():.0%} |"
            )


if __name__ == "__main__":
    main()
