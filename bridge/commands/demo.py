"""`loopbridge demo`: the main job end to end on a fresh machine — loops, a model, the server, two takes over OSC."""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

DEFECT = "clipping"
TRAINING_LOOPS = 32
# The shallow heads fit in seconds and are stable on 32 loops; Deep SVDD (`loopbridge fit`'s default) wants more of both.
DEMO_HEADS = ("mahalanobis", "knn", "pca", "iforest")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="try it end to end: generate loops, fit a model, serve it, score a clean and a clipped take over OSC",
        description="Needs no audio and no weights: uses the CLAP encoder when it is installed, else mel-stats. "
        "Everything it makes lives in a temporary folder and is removed afterwards.",
    )
    p.add_argument("--seed", type=int, default=7, help="seed for the generated loops (default %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()  # before the imports below, which are a good part of a cold start
    with tempfile.TemporaryDirectory(prefix="loopbridge-demo-") as tmp:
        return _demo(Path(tmp), args.seed, started)


def _demo(tmp: Path, seed: int, started: float) -> int:
    import numpy as np
    import soundfile as sf

    from .. import synth
    from ..bundle import Bundle
    from ..embedding import embed_files
    from ..encoders import DEFAULT_ENCODER, FALLBACK_ENCODER, Encoder, encoder_path
    from ..errors import LoopbridgeError
    from ..pipeline import Scorer
    from ..server.app import OscServer
    from ..server.models import describe, warm_up

    try:
        from ..export import fit
    except ImportError as exc:
        raise LoopbridgeError(
            f"the demo fits a model, which needs the training extra: pip install 'loopbridge[torch]' ({exc})"
        ) from exc

    say(f"loaded the fitting code and the runtime in {time.perf_counter() - started:.1f} s")
    if encoder_path(DEFAULT_ENCODER).exists():
        encoder = Encoder.open(DEFAULT_ENCODER)
        say(f"encoder: {encoder.name} (CLAP weights found)")
    else:
        encoder = Encoder.open(FALLBACK_ENCODER)
        say(
            f"encoder: {encoder.name} — CLAP weights are not installed (`loopbridge encoder fetch` gets them); "
            "the weight-free encoder shows the whole path, CLAP hears far more"
        )

    loops = tmp / "loops"
    synth.write_library(loops, n_clean=TRAINING_LOOPS, n_per_defect=0, seed=seed)
    files = sorted(loops.glob("*.wav"))
    say(f"wrote {len(files)} generated bass and guitar loops to {loops}")

    emb, _ = embed_files(files, encoder, progress=False)
    opts = fit.FitOptions(heads=DEMO_HEADS, progress=False, seed=seed)
    model = fit.fit_library(emb.vectors, emb.files, opts)
    bundle_dir = fit.save_bundle(
        tmp / "model",
        "demo",
        model.detectors,
        fit.encoder_ref(encoder),
        {"files": len(emb)},
        model.calibration,
        primary=model.primary,
        decision=model.decision,
    )
    scorer = Scorer(Bundle.load(bundle_dir), encoder)
    warm_up(scorer)
    say(
        f"fitted model 'demo' on them with the quick baseline heads (`loopbridge fit` also trains Deep SVDD); {describe(scorer)}"
    )

    rng = np.random.default_rng(seed + 1000)
    loop = synth.make_loop(rng, bars=2)
    takes = tmp / "takes"
    takes.mkdir()
    clean, defective = takes / "take 1 (clean).wav", takes / f"take 2 ({DEFECT}).wav"
    sf.write(str(clean), synth.make_loop(rng, bars=2).samples, loop.sample_rate, subtype="PCM_24")
    bad, _ = synth.inject(loop.samples, loop.sample_rate, DEFECT, rng)
    sf.write(str(defective), bad, loop.sample_rate, subtype="PCM_24")

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daw:  # the device's [udpreceive]
        daw.bind(("127.0.0.1", 0))
        daw.settimeout(60.0)
        reply_port = daw.getsockname()[1]
        with OscServer({"demo": scorer}, port=0, reply_port=reply_port, provider=encoder.provider) as server:
            host, port = server.address
            say(f"server listening on {host}:{port}, replying to port {reply_port} (as `loopbridge serve` does)")
            verdicts = [_send_take(daw, (host, port), rid, path) for rid, path in ((1, clean), (2, defective))]
    say(
        f"done in {time.perf_counter() - started:.1f} s (from the command's start). Next: `loopbridge fit YOUR_LOOPS --name mine`, then "
        "`loopbridge serve --model mine` and the Max for Live device (see README)."
    )
    return 0 if verdicts == [0, 1] else 1


def _send_take(daw: socket.socket, server: tuple[str, int], rid: int, path: Path) -> int:
    """Send a take the way the device does and print every reply up to the result; returns the flag."""
    from pythonosc.osc_message import OscMessage
    from pythonosc.udp_client import SimpleUDPClient

    say(f"→ /loopbridge/score {rid} {str(path)!r}")
    client = SimpleUDPClient(*server)
    client.send_message("/loopbridge/score", [rid, str(path)])
    client.close()
    while True:
        msg = OscMessage(daw.recv(65536))
        args: list[Any] = list(msg.params)
        say("← " + msg.address + " " + " ".join(_fmt(a) for a in args))
        if msg.address in ("/loopbridge/result", "/loopbridge/error") and args[0] == rid:
            flag = int(args[5]) if msg.address == "/loopbridge/result" else -1
            verdict = {1: "FLAGGED", 0: "ok"}.get(flag, "could not be scored")
            say(f"   {path.name}: {verdict}")
            return flag


def _fmt(a: Any) -> str:
    if isinstance(a, float):
        return f"{a:.4g}"
    return repr(a) if isinstance(a, str) and " " in a else str(a)


def say(text: str) -> None:
    print(text, flush=True)
