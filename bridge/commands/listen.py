"""`loopbridge listen`: score takes played into an audio input, without a DAW (needs PortAudio via sounddevice)."""

from __future__ import annotations

import argparse
import queue
from pathlib import Path

from ..errors import LoopbridgeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="score takes played into an audio input as they end (no DAW needed)")
    p.add_argument("--model", help="model name or bundle folder (see `loopbridge fit`)")
    p.add_argument("--device", help="input device name or number (see --list-devices)")
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--samplerate", type=int, default=48_000)
    p.add_argument("--gate-db", type=float, default=-45.0, help="a take starts above this level (dBFS)")
    p.add_argument("--release", type=float, default=1.5, help="seconds below the gate that end a take")
    p.add_argument("--save", type=Path, help="keep every take as a WAV file in this folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import sounddevice as sd
    except OSError as exc:  # the Python package is there, the PortAudio library is not
        raise LoopbridgeError(
            f"audio input needs the PortAudio library ({exc}); on Debian/Ubuntu: apt install libportaudio2",
            "no_audio_input",
        ) from exc
    if args.list_devices:
        print(sd.query_devices())
        return 0
    if not args.model:
        raise LoopbridgeError("--model is required (fit one with `loopbridge fit`)", "usage")

    from ..pipeline import Scorer
    from ..server.models import warm_up
    from ..takes import TakeSplitter, score_stream
    from .score import reasons_text

    scorer = Scorer(args.model)
    warm_up(scorer)  # the whole path once, as `serve` does: the first take is as fast as the tenth
    blocks: queue.Queue = queue.Queue()
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    try:
        stream = sd.InputStream(
            device=device,
            channels=args.channels,
            samplerate=args.samplerate,
            dtype="float32",
            callback=lambda data, frames, time, status: blocks.put(data.copy()),
        )
    except (sd.PortAudioError, ValueError) as exc:
        raise LoopbridgeError(f"cannot open audio input {args.device or '(default)'}: {exc}", "no_audio_input") from exc

    def incoming():
        with stream:
            while True:
                yield blocks.get()

    splitter = TakeSplitter(args.samplerate, args.gate_db, args.release)
    print(f"listening on {stream.device} at {args.samplerate} Hz; play a take, Ctrl-C to stop")
    for r in score_stream(incoming(), splitter, scorer.score_clips, args.save):
        verdict = "OFF" if r.flag else "ok"
        print(f"{r.path}  {r.duration_s:.1f} s  score {r.score:.4g} / {r.threshold:.4g}  {verdict}  {reasons_text(r)}")
    return 0
