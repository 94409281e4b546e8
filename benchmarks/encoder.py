"""Encoder time per clip as a multiple of this machine's own compute floor, every engine in the same run.

The floor is the graph's own arithmetic (MatMul/Gemm/Conv FLOPs, counted from the ONNX graph with
the real shapes of one run) done as sgemm by the fastest of ONNX Runtime's MatMul and numpy's BLAS at
the same thread count (square and at the model's own heaviest shapes). Engines: ONNX Runtime with
loopbridge's session (what `auto` picks) and its variants (optimisation level, thread spinning, memory
arena, the transformer fusions), OpenVINO on the same file (f32, and bf16 where the CPU has it),
laion-clap's PyTorch forward, and int8 graphs (dynamic u8s8/u8u8; static QDQ calibrated on loops with
--static). The floor is one more contender in each round, so a busy machine slows it like the engines;
ratios are per round, then the median, in wall time and in CPU time (what a run costs whatever else
shares the cores). --auroc adds every head's held-out AUROC on fp32 vs int8 embeddings of a synthetic
library. Random weights: speed does not depend on them (cosines do, a little).

    python benchmarks/encoder.py [--threads 2] [--reps 7] [--static] [--lengths] [--auroc]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # random O(1)-gain weights

if TYPE_CHECKING:
    from loopbridge.encoders import Encoder

COUNTED_OPS = ("MatMul", "Gemm", "Conv", "MatMulInteger", "ConvInteger")


def graph_flops(path: Path, feed: dict[str, np.ndarray]) -> tuple[float, list[tuple[int, int, int, float]]]:
    """FLOPs of one run of the graph (2·M·N·K per product), from the shapes ONNX Runtime actually computes.

    Returns the total and the (M, K, N, FLOPs) of each product, M collapsing the batch dimensions."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    consts = {i.name: list(i.dims) for i in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in COUNTED_OPS]
    wanted = {x for n in nodes for x in (n.input[0], n.input[1], n.output[0]) if x not in consts}
    wanted -= {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in sorted(wanted))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every node visible
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    shapes = {name: list(v.shape) for name, v in zip(names, session.run(names, feed), strict=True)}
    shapes.update(consts)
    products = []
    for n in nodes:
        out = shapes[n.output[0]]
        if n.op_type.startswith("Conv"):
            weight = shapes[n.input[1]]
            k, m, cols = int(np.prod(weight[1:])), int(np.prod(out)) // out[1], out[1]
        else:
            a = shapes[n.input[0]]
            trans_a = any(att.name == "transA" and att.i for att in n.attribute)
            k = a[0] if trans_a else a[-1]
            m, cols = int(np.prod(out[:-1])), out[-1]
        products.append((m, k, cols, 2.0 * m * k * cols))
    return sum(p[-1] for p in products), products


def matmul_graph(m: int, k: int, n: int) -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "sgemm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])],
        [helper.make_tensor("b", TensorProto.FLOAT, [k, n], np.random.default_rng(1).random(k * n, np.float32))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def sgemm_contenders(shapes: list[tuple[int, int, int]], threads: int) -> dict[str, tuple[Callable[[], object], float]]:
    """(call, FLOPs) per library and shape: ONNX Runtime's MLAS and numpy's BLAS, at `threads` threads."""
    import onnxruntime as ort

    out: dict[str, tuple[Callable[[], object], float]] = {}
    for m, k, n in shapes:
        a = np.random.default_rng(0).random((m, k), np.float32)
        b = np.random.default_rng(1).random((k, n), np.float32)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as loopbridge's sessions
        session = ort.InferenceSession(matmul_graph(m, k, n), opts, providers=["CPUExecutionProvider"])
        out[f"ort {m}x{k}x{n}"] = (partial(session.run, None, {"a": a}), 2.0 * m * k * n)
        out[f"numpy {m}x{k}x{n}"] = (partial(np.matmul, a, b), 2.0 * m * k * n)
    return out


def fastest_sgemm(contenders: dict[str, tuple[Callable[[], object], float]], calls: int = 3) -> tuple[str, float]:
    """The contender with the highest GFLOP/s (best of `calls` each): the kernel the floor is measured with."""
    rates = {}
    for name, (fn, flops) in contenders.items():
        fn()
        rates[name] = flops / min(_timed(fn).wall for _ in range(calls)) / 1e9
    name = max(rates, key=rates.__getitem__)
    return name, rates[name]


def sustained(fn: Callable[[], object], flops: float, total: float) -> Callable[[], None]:
    """A call that runs `fn` until `total` FLOPs are done: as long as one clip's encoder run, so other work on
    a busy machine slows the floor as much as the engines around it."""
    calls = max(1, round(total / flops))

    def run() -> None:
        for _ in range(calls):
            fn()

    return run


class Took(NamedTuple):
    wall: float  # seconds
    cpu: float  # CPU seconds of this process, all threads: what the call cost, whatever else runs


def _timed(fn: Callable[[], object]) -> Took:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return Took(time.perf_counter() - t, time.process_time() - c)


def rounds(fns: Mapping[str, Callable[[], object]], reps: int) -> dict[str, list[Took]]:
    """Time per call for each contender, `reps` rounds taking turns.

    Each turn starts with one untimed call: torch's OpenMP workers keep spinning for a while after a forward
    pass, and without it the next contender's timed call would pay for torch's spin (measured: +10–40 ms)."""
    times: dict[str, list[Took]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(reps):
        for name, fn in fns.items():
            fn()
            times[name].append(_timed(fn))
    return times


def loops(seconds: float, count: int, seed: int = 0) -> list[np.ndarray]:
    """Real-looking audio: synthetic bass/guitar loops, tiled or cut to the wanted length."""
    from loopbridge.synth import make_loop

    out = []
    for i in range(count):
        y = make_loop(seed + i).samples.astype(np.float32)
        n = int(seconds * 48_000)
        out.append(np.resize(y, n) if len(y) < n else y[:n])
    return out


def fused_feed(clips: list[np.ndarray]) -> dict[str, np.ndarray]:
    from loopbridge import features

    inputs = features.batch([features.fusion_input(y) for y in clips])
    return {"mel_fusion": inputs["mel_fusion"], "longer": inputs["longer"]}


def ort_session(path: Path, threads: int, level: str = "all", spin: bool | None = None, arena: bool = True):
    """A plain ONNX Runtime session with one setting changed from loopbridge's, to see what each is worth."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    opts.intra_op_num_threads = threads
    opts.enable_cpu_mem_arena = arena
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    if spin is not None:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def transformer_fused(path: Path, out: Path) -> Path:
    """ONNX Runtime's offline transformer optimiser (Swin model type: LayerNorm, SkipLayerNorm, BiasGelu fusions)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(path), model_type="swin", num_heads=0, hidden_size=0, opt_level=0)
    optimized.save_model_to_file(str(out))
    return out


def static_int8(path: Path, out: Path, calibration: list[dict[str, np.ndarray]]) -> Path:
    """Static QDQ int8 (u8 activations, s8 per-channel weights), activation ranges calibrated on loops."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    quantize_static(
        str(path),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Conv", "Gemm"],
    )
    return out


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def embed_files(encoder: Encoder, files: list[Path]) -> np.ndarray:
    from loopbridge import audio

    batches = [files[i : i + 8] for i in range(0, len(files), 8)]
    return np.concatenate([encoder.embed_clips([audio.load(f) for f in batch]) for batch in batches])


def heads_auroc(encoders: dict[str, Path], root: Path, seed: int = 0) -> None:
    """Held-out AUROC of every head fitted on each encoder's embeddings of the same synthetic library
    (loopbridge.synth: clean loops to fit on, an evaluation set of another seed with every defect kind)."""
    import csv

    from sklearn.metrics import roc_auc_score

    from loopbridge.bundle import Bundle
    from loopbridge.cli import main as cli
    from loopbridge.encoders import Encoder
    from loopbridge.synth import write_library

    write_library(root / "train", n_clean=100, n_per_defect=0, seed=seed)
    labels_csv = write_library(root / "eval", n_clean=50, n_per_defect=8, seed=seed + 1)
    with labels_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    y = np.array([r["label"] != "0" for r in rows])
    results: dict[str, dict[str, float]] = {}
    for name, path in encoders.items():
        encoder = Encoder(path)
        train = embed_files(encoder, sorted((root / "train").glob("*.wav")))
        np.save(root / f"{name}.npy", train)
        out = root / f"model-{name}"
        fit = ["fit", "--embeddings", str(root / f"{name}.npy"), "--name", name, "--out", str(out)]
        if cli([*fit, "--seed", str(seed), "--no-progress", "--quantile", "0.95"]) != 0:
            raise SystemExit(f"fit on {name} embeddings failed")
        scores = Bundle.load(out).scores(embed_files(encoder, [root / "eval" / r["file"] for r in rows]))
        results[name] = {head: float(roc_auc_score(y, s)) for head, s in scores.items()}
    names = list(results)
    print(f"\n## held-out AUROC per head, {len(rows)} evaluation loops ({int(y.sum())} with defects), RANDOM weights\n")
    print("| head | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for head in results[names[0]]:
        print(f"| {head} | " + " | ".join(f"{results[n][head]:.3f}" for n in names) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--preset", default="clap-htsat-fused", choices=["clap-htsat-fused"])
    ap.add_argument("--static", action="store_true", help="also static QDQ int8 (slow calibration; cosine < 0.999)")
    ap.add_argument("--lengths", action="store_true", help="also time 4/10/25 s clips at batch 1 and 8")
    ap.add_argument("--auroc", action="store_true", help="also every head's held-out AUROC on fp32 vs int8 embeddings")
    args = ap.parse_args()
    os.environ["LOOPBRIDGE_THREADS"] = str(args.threads)
    os.environ["LOOPBRIDGE_PROVIDER"] = "cpu"

    import soundfile as sf
    import torch
    from helpers_clap import random_tower

    from loopbridge import audio, cpu, engines, features
    from loopbridge.encoders import Encoder
    from loopbridge.export.encoder_export import export_tower

    torch.set_num_threads(args.threads)
    tower = random_tower(args.preset)
    workdir = tempfile.TemporaryDirectory(prefix="loopbridge-bench-encoder-")  # removed when the run ends
    tmp = Path(workdir.name)
    export = partial(export_tower, tower, checkpoint_sha256="-", random_weights=True)
    fp32 = export(tmp / "fp32.onnx")
    int8 = {kernel: export(tmp / f"int8-{kernel}.onnx", int8=True, int8_kernel=kernel) for kernel in ("u8s8", "u8u8")}
    clip = fused_feed(loops(10.0, 1))
    if args.static:
        calibration = [fused_feed([y]) for s in (3.0, 10.0, 20.0) for y in loops(s, 4, seed=100)]
        int8["static"] = static_int8(fp32, tmp / "int8-static.onnx", calibration)
    flops, products = graph_flops(fp32, clip)
    heavy = sorted({(m, k, n) for m, k, n, _ in sorted(products, key=lambda p: -p[-1])[:12]})[:3]
    sgemm = sgemm_contenders([(1024, 1024, 1024), *heavy], args.threads)

    chosen = Encoder(fp32)  # what loopbridge runs with LOOPBRIDGE_ENGINE unset
    contenders: dict[str, Callable[[], object]] = {
        f"loopbridge auto ({chosen.engine})": partial(chosen.embed_inputs, clip)
    }
    contenders["ort fp32, spinning threads"] = partial(ort_session(fp32, args.threads, spin=True).run, None, clip)
    contenders["ort fp32, no spinning"] = partial(ort_session(fp32, args.threads, spin=False).run, None, clip)
    contenders["ort fp32, extended level"] = partial(
        ort_session(fp32, args.threads, "extended", spin=False).run, None, clip
    )
    contenders["ort fp32, no arena"] = partial(ort_session(fp32, args.threads, spin=False, arena=False).run, None, clip)
    fused = transformer_fused(fp32, tmp / "fused.onnx")
    contenders["ort fp32, transformer fusions"] = partial(ort_session(fused, args.threads, spin=False).run, None, clip)
    if engines.openvino_available():
        contenders["openvino f32"] = partial(engines.OpenVinoEngine(fp32, args.threads, "f32").run, clip)
        if engines.has_native_bf16():
            contenders["openvino bf16"] = partial(engines.OpenVinoEngine(fp32, args.threads, "bf16").run, clip)
    as_torch = {k: torch.from_numpy(v) for k, v in clip.items()}
    contenders["laion-clap torch eager"] = partial(tower.reference_embedding, as_torch)
    for name, path in int8.items():
        contenders[f"ort int8 {name}"] = partial(Encoder(path).embed_inputs, clip)

    kernel, _ = fastest_sgemm(sgemm)
    load = os.getloadavg()[0]
    times = rounds({"floor": sustained(*sgemm[kernel], total=flops), **contenders}, args.reps)
    floor = times.pop("floor")
    rates = [flops / f.wall / 1e9 for f in floor]
    print(
        f"\n## {args.preset}, one 10 s clip, {args.threads} threads, {cpu.describe()}\n\n"
        f"{os.cpu_count()} cores, load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at the end (BUSY "
        f"when above 1: other work shares the cores). Graph: {flops / 1e9:.2f} GFLOP per clip. Floor: that many "
        f"FLOPs of sgemm ({kernel}, the fastest of numpy and ONNX Runtime here), run as a contender in each of "
        f"{args.reps} rounds: wall median {1000 * statistics.median(f.wall for f in floor):.0f} ms, best "
        f"{1000 * min(f.wall for f in floor):.0f} ms ({max(rates):.0f} GFLOP/s); CPU time median "
        f"{1000 * statistics.median(f.cpu for f in floor):.0f} ms. × floor is per round, then the median: wall "
        f"time (what a user waits, inflated by other work) and CPU time (what the run costs, less so). RANDOM weights.\n"
    )
    print("| engine | wall ms median | wall ms best | CPU ms median | × floor, wall | × floor, CPU time |")
    print("|---|---|---|---|---|---|")
    for name, t in times.items():
        wall = statistics.median(e.wall / f.wall for e, f in zip(t, floor, strict=True))
        busy = statistics.median(e.cpu / f.cpu for e, f in zip(t, floor, strict=True))
        print(
            f"| {name} | {1000 * statistics.median(e.wall for e in t):.0f} | {1000 * min(e.wall for e in t):.0f} | "
            f"{1000 * statistics.median(e.cpu for e in t):.0f} | {wall:.2f} | {busy:.2f} |"
        )

    clips = [y for seconds in (3.0, 8.0, 25.0) for y in loops(seconds, 4)]
    feed = fused_feed(clips)
    want = chosen.embed_inputs(feed)
    print(f"\ncosine to loopbridge's fp32 embedding on {len(clips)} synthetic loops (3/8/25 s), random weights:\n")
    print("| engine | min | mean |")
    print("|---|---|---|")
    others = {f"ort int8 {name}": Encoder(path) for name, path in int8.items()}
    for name, encoder in others.items():
        c = cosines(want, encoder.embed_inputs(feed))
        print(f"| {name} | {c.min():.5f} | {c.mean():.5f} |")
    if engines.openvino_available():
        for precision in ("f32", "bf16") if engines.has_native_bf16() else ("f32",):
            c = cosines(want, engines.OpenVinoEngine(fp32, args.threads, precision).run(feed))
            print(f"| openvino {precision} | {c.min():.5f} | {c.mean():.5f} |")

    if args.lengths:
        print("\n## ms per clip by length and batch (loopbridge auto engine; median of rounds)\n")
        print("| clip | batch | fp32 | int8 (this CPU's kernel) | torch eager |")
        print("|---|---|---|---|---|")
        default_int8 = Encoder(int8["u8s8" if cpu.has_int8_dot() else "u8u8"])
        for seconds in (4.0, 10.0, 25.0):
            for batch in (1, 8):
                feed = fused_feed(loops(seconds, batch))
                as_torch = {k: torch.from_numpy(v) for k, v in feed.items()}
                fns = {
                    "fp32": partial(chosen.embed_inputs, feed),
                    "int8": partial(default_int8.embed_inputs, feed),
                    "torch": partial(tower.reference_embedding, as_torch),
                }
                ms = {k: 1000 * statistics.median(e.wall for e in t) / batch for k, t in rounds(fns, 3).items()}
                print(f"| {seconds:g} s | {batch} | {ms['fp32']:.0f} | {ms['int8']:.0f} | {ms['torch']:.0f} |")

    print("\n## front-end: ms per file (44.1 kHz stereo 24-bit WAV → 48 kHz mono → fusion log-mel)\n")
    print("| clip | load + resample | mel + fusion views | total |")
    print("|---|---|---|---|")
    for seconds in (4.0, 10.0, 25.0):
        y = loops(seconds, 1)[0]
        path = tmp / f"take{seconds:g}.wav"
        sf.write(path, np.stack([y, 0.9 * y], axis=1), 44_100, subtype="PCM_24")
        samples = audio.load(path).samples
        fe = rounds({"load": partial(audio.load, path), "mel": partial(features.fusion_input, samples)}, args.reps)
        load_ms, mel_ms = (1000 * statistics.median(e.wall for e in fe[k]) for k in ("load", "mel"))
        print(f"| {seconds:g} s | {load_ms:.1f} | {mel_ms:.1f} | {load_ms + mel_ms:.1f} |")
    if args.auroc:
        os.environ["LOOPBRIDGE_HOME"] = str(tmp / "home")  # the fitted models stay in the run's folder
        default_kernel = "u8s8" if cpu.has_int8_dot() else "u8u8"
        heads_auroc({"fp32": fp32, f"int8 {default_kernel}": int8[default_kernel]}, tmp)
    sizes = {p.name: p.stat().st_size / 1e6 for p in tmp.glob("*.onnx")}
    print("\nfile sizes: " + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
