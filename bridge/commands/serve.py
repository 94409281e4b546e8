"""`loopbridge serve`: the OSC server a Max for Live device (or any OSC tool) sends takes to."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from ..limits import MAX_SECONDS
from ..server import protocol

log = logging.getLogger("loopbridge.serve")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="score takes sent over OSC (UDP) by Ableton Live or any OSC tool",
        description="Scores takes sent over OSC. Replies go to the sender's IP at --reply-port (or the port a "
        "request names), because Max and most OSC tools send from a random port. See docs/PROTOCOL.md.",
    )
    p.add_argument(
        "--port",
        type=int,
        default=protocol.DEFAULT_PORT,
        help="UDP port to listen on (default %(default)s; 0 = any free port)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default %(default)s; others need --allow-root)"
    )
    p.add_argument(
        "--reply-port", type=int, default=protocol.DEFAULT_REPLY_PORT, help="port replies go to (default %(default)s)"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="model to serve (repeatable; the first is the default; default: every fitted model)",
    )
    p.add_argument(
        "--allow-root",
        action="append",
        default=[],
        metavar="DIR",
        help="only read files under this folder (repeatable)",
    )
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="longest take accepted (default %(default)s)")
    p.add_argument(
        "--wait",
        type=float,
        default=3.0,
        help="seconds to wait for a take that is still being written (default %(default)s)",
    )
    p.add_argument(
        "--queue",
        type=int,
        default=64,
        help="requests that may wait before the server answers busy (default %(default)s)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..server.app import OscServer
    from ..server.files import resolve_roots
    from ..server.models import describe, open_models

    scorers = open_models(args.model)
    for scorer in scorers.values():
        log.info(describe(scorer))
    provider = next(iter(scorers.values())).encoder.provider
    server = OscServer(
        scorers,
        host=args.host,
        port=args.port,
        reply_port=args.reply_port,
        allow_roots=resolve_roots(args.allow_root),
        provider=provider,
        queue_size=args.queue,
        max_seconds=args.max_seconds,
        wait_s=args.wait,
    )
    host, port = server.address
    roots = f"; reading only under {', '.join(args.allow_root)}" if args.allow_root else ""
    log.info(
        "listening on %s:%d (OSC over UDP); replies go to the sender at port %d unless a request names one%s",
        host,
        port,
        args.reply_port,
        roots,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        log.info("stopped")
    return 0
