"""The UDP side: python-osc receives, thin handlers parse and queue, replies go to the sender's IP at its reply port.

Replies do not go to the request's source port: Max's udpsend, liblo's oscsend and most OSC tools send from
a random port nobody listens on, so the server answers at a fixed reply port (9001) unless a request names one.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.parsing import osc_types

from .. import __version__
from ..errors import LoopbridgeError
from . import protocol
from .jobs import BatchJob, ScorerLike, Settings, TakeJob
from .protocol import ProtocolError, Request
from .worker import WorkQueue

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.25


class _Transport(BlockingOSCUDPServer):
    """python-osc's UDP server, but a datagram that is not OSC is logged instead of silently dropped."""

    max_packet_size = 65_535  # socketserver reads 8 KB by default and would cut a long `batch` request

    def verify_request(self, request: Any, client_address: Any) -> bool:
        data = request[0]
        try:
            unknown = unsupported_type(data)
            if unknown is None:
                OscPacket(data)
        except Exception:
            log.warning("ignored a %d-byte datagram from %s that is not OSC", len(data), client_address[0])
            return False
        if unknown is not None:  # python-osc would warn on the root logger and parse the rest out of step
            log.warning(
                "ignored an OSC message from %s with an argument of unsupported type %r", client_address[0], unknown
            )
            return False
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("error while handling a datagram from %s", client_address[0])


SUPPORTED_TYPES = frozenset("ihfdsbrmtTFN[]")  # what python-osc decodes


def unsupported_type(data: bytes) -> str | None:
    """The first OSC type tag python-osc cannot decode in a message or bundle, else None.

    An unknown tag leaves its argument's size unknown, so such a message cannot be read (OSC 1.0).
    """
    if data.startswith(b"#bundle\0"):
        index = 16
        while index + 4 <= len(data):
            size, index = osc_types.get_int(data, index)
            if size <= 0 or index + size > len(data):
                return None  # malformed: OscPacket will say so
            if (found := unsupported_type(data[index : index + size])) is not None:
                return found
            index += size
        return None
    _, index = osc_types.get_string(data, 0)
    if index >= len(data):
        return None  # no type tags: an old-style message without arguments
    tags, _ = osc_types.get_string(data, index)
    return next((t for t in tags[1:] if t not in SUPPORTED_TYPES), None) if tags.startswith(",") else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OscServer:
    """The loopbridge OSC service around ready scorers (one per model; the first is the default)."""

    def __init__(
        self,
        models: Mapping[str, ScorerLike],
        *,
        host: str = "127.0.0.1",
        port: int = protocol.DEFAULT_PORT,
        reply_port: int = protocol.DEFAULT_REPLY_PORT,
        allow_roots: list[Path] | None = None,
        provider: str = "CPUExecutionProvider",
        queue_size: int = 64,
        **settings: Any,
    ) -> None:
        if not models:
            raise LoopbridgeError("no model to serve; fit one first (`loopbridge fit` or `loopbridge demo`)")
        if not is_loopback(host) and not allow_roots:
            raise LoopbridgeError(
                f"serving on {host} lets other machines ask for files: give at least one --allow-root folder"
            )
        self.settings = Settings(models=dict(models), allow_roots=list(allow_roots or []), **settings)
        self.reply_port = reply_port
        self.provider = provider
        self.queue = WorkQueue(queue_size)
        # One entry point: a wildcard address like /loopbridge/* must not fan out to every command.
        # strict_timing off: a future timetag must not stall the receive thread.
        dispatcher = Dispatcher(strict_timing=False)
        dispatcher.set_default_handler(self._on_message, needs_reply_address=True)
        try:
            self._udp = _Transport((host, port), dispatcher)
        except OSError as exc:
            raise LoopbridgeError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from exc
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._udp.server_address[:2]
        return str(host), int(port)

    # ---- life cycle ---------------------------------------------------------------------------

    def start(self) -> OscServer:
        """Serve in background threads (tests, the demo); `stop()` ends it. The scorers come warm
        (server.models.warm_up: encoder, heads, checks and note model run once), so nothing is loaded here."""
        self.queue.start()
        for target, name in ((self._udp.serve_forever, "loopbridge-udp"), (self._heartbeat, "loopbridge-clock")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._threads:  # shutdown() waits for serve_forever, which only runs once started
            self._udp.shutdown()
        self.queue.stop()
        for t in self._threads:
            t.join(5.0)
        self._udp.server_close()

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- receiving ----------------------------------------------------------------------------

    def _on_message(self, client: tuple[str, int], address: str, *args: Any) -> None:
        received = time.perf_counter()
        try:
            request = protocol.parse(address, args)
        except ProtocolError as exc:
            if exc.code == protocol.UNKNOWN_ADDRESS and exc.request_id == protocol.NO_ID:
                log.info("ignored unknown address %s from %s", address[:200], client[0])
                return
            self._send(client, exc.reply_port, protocol.error(exc.request_id, exc.code, exc.message))
            return
        handler = getattr(self, f"_on_{request.command}")
        handler(request, client, received)

    def _on_score(self, request: Request, client: tuple[str, int], received: float) -> None:
        self._submit(TakeJob, request, client, received)

    def _on_batch(self, request: Request, client: tuple[str, int], received: float) -> None:
        self._submit(BatchJob, request, client, received)

    def _on_cancel(self, request: Request, client: tuple[str, int], received: float) -> None:
        if not self.queue.cancel(self._key(request, client)):
            self._send(
                client,
                request.reply_port,
                protocol.error(request.id, protocol.UNKNOWN_ID, f"nothing running or queued with id {request.id}"),
            )

    def _on_ping(self, request: Request, client: tuple[str, int], received: float) -> None:
        self._send(client, request.reply_port, protocol.pong(__version__, self.provider))

    def _on_models(self, request: Request, client: tuple[str, int], received: float) -> None:
        for scorer in self.settings.models.values():
            self._send(client, request.reply_port, model_message(scorer))

    def _on_sensitivity(self, request: Request, client: tuple[str, int], received: float) -> None:
        assert request.quantile is not None
        try:
            scorer = self.settings.scorer(request.model)
            scorer.bundle.set_quantile(request.quantile)
        except LoopbridgeError as exc:
            self._send(client, request.reply_port, protocol.error(protocol.NO_ID, exc.code, exc.message))
            return
        log.info("model %s: sensitivity quantile %g", scorer.bundle.name, request.quantile)
        self._send(client, request.reply_port, model_message(scorer))

    def _submit(self, job_type: type, request: Request, client: tuple[str, int], received: float) -> None:
        def send(dgram: bytes) -> None:
            self._send(client, request.reply_port, dgram)

        job = job_type(request, self._key(request, client), send, self.settings, received)
        if not self.queue.submit(job):
            send(
                protocol.error(
                    request.id,
                    protocol.BUSY,
                    f"the server is busy ({self.queue.capacity} requests waiting); try again shortly",
                )
            )

    def _key(self, request: Request, client: tuple[str, int]) -> Hashable:
        return client[0], request.reply_port or self.reply_port, request.key_id

    # ---- sending ------------------------------------------------------------------------------

    def _send(self, client: tuple[str, int], reply_port: int | None, dgram: bytes) -> None:
        try:
            self._udp.socket.sendto(dgram, (client[0], reply_port or self.reply_port))
        except OSError as exc:
            log.warning("could not reply to %s:%s (%s)", client[0], reply_port or self.reply_port, exc)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            for job in self.queue.jobs():
                if isinstance(job, BatchJob):
                    job.heartbeat()


def model_message(scorer: ScorerLike) -> bytes:
    b = scorer.bundle
    return protocol.model(b.name, b.encoder.preset or "embeddings", b.primary, b.quantiles[b.primary], b.thresholds)
