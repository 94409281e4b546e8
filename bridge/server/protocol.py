"""The OSC contract (docs/PROTOCOL.md): addresses, argument parsing and casting, error codes, reply datagrams.

Numbers are cast rather than type-checked, because Pure Data and TouchOSC send every number as a float
and Max may send a number typed as a symbol. A trailing number after the named arguments of any request
is the port to reply to, so several clients on one machine can each listen on their own port.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from ..context import TakeContext

PROTOCOL_VERSION = 1
PREFIX = "/loopbridge/"
DEFAULT_PORT = 9000
DEFAULT_REPLY_PORT = 9001
NO_ID = -1  # the id in an `error` answering a request that carries none (ping, models, sensitivity)
MAX_DATAGRAM = 8192
MAX_TEXT = 400  # error and reason messages are cut here so every reply stays far below MAX_DATAGRAM

# Error codes of the server itself; audio errors keep the codes of loopbridge.audio
# (missing, is_directory, not_audio, empty, too_long, non_finite) and models theirs (model, encoder).
BAD_ARGUMENT = "bad_argument"
MISSING_ARGUMENT = "missing_argument"
UNKNOWN_ADDRESS = "unknown_address"
UNKNOWN_MODEL = "unknown_model"
UNKNOWN_ID = "unknown_id"
OUTSIDE_ROOT = "outside_root"
INCOMPLETE = "incomplete"
UNREADABLE = "unreadable"  # the system refused to read it (permissions, I/O error)
BUSY = "busy"
CANCELLED = "cancelled"
INTERNAL = "internal"
BAD_REGION = "bad_region"  # start_s/end_s that select nothing (also raised by loopbridge.audio past the file's end)

# Optional named arguments of `score`, as name/value pairs after <id> <path> [model] (docs/PROTOCOL.md).
SCORE_NAMES = ("bpm", "key", "meter", "start_s", "end_s", "sibling")
MAX_SIBLINGS = 16
MIN_MODEL_REPLY_PORT = 1024  # `score <id> <path> <word> <n>`: a model and a reply port only when n could be a port

USAGE = {
    "score": "score <id> <path> [model] [name value]... [reply_port]",
    "batch": "batch <id> <path or folder>... [reply_port]",
    "cancel": "cancel <id> [reply_port]",
    "ping": "ping [reply_port]",
    "models": "models [reply_port]",
    "sensitivity": "sensitivity <model> <quantile> [reply_port]",
}

RequestId = int | str


class ProtocolError(Exception):
    """A request that cannot be understood; answered with `error <id> <code> <message>`."""

    def __init__(self, code: str, message: str, request_id: RequestId = NO_ID, reply_port: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.reply_port = reply_port


@dataclass(frozen=True)
class Request:
    """A parsed request: `command` is the address without the prefix; `id` in the form replies use."""

    command: str
    id: RequestId = NO_ID
    paths: tuple[str, ...] = ()
    model: str | None = None
    quantile: float | None = None
    reply_port: int | None = None
    context: TakeContext | None = None  # `score`'s named arguments; None when none were given

    @property
    def key_id(self) -> RequestId:
        """The id `cancel` matches on: 13, 13.0 and "13" are one id."""
        return canonical_id(self.id)


def canonical_id(rid: RequestId) -> RequestId:
    """A whole number however it was sent (int, float, numeric string) is that int; other words stay words."""
    if isinstance(rid, str):
        n = _whole(rid)
        return n if n is not None and -(2**31) <= n < 2**31 else rid
    return rid


def command_of(address: str) -> str | None:
    """`score` for `/loopbridge/score`; None for addresses outside the protocol."""
    if not address.startswith(PREFIX):
        return None
    name = address[len(PREFIX) :]
    return name if name in USAGE else None


def parse(address: str, args: list[Any] | tuple[Any, ...]) -> Request:
    """Turn an incoming message into a Request, or raise ProtocolError saying what is wrong."""
    command = command_of(address)
    args = list(args)
    first_id = _id_or_none(args[0]) if args else None
    if command is None:  # answered only inside our namespace: other traffic on a shared port is not ours
        ours = address.startswith(PREFIX) and first_id is not None
        port = _whole(args[-1]) if ours and len(args) >= 2 and _is_number(args[-1]) else None
        raise ProtocolError(
            UNKNOWN_ADDRESS,
            f"unknown address {address[:200]}; known: {', '.join(USAGE)}",
            first_id if ours and first_id is not None else NO_ID,
            port if port and 0 < port < 65536 else None,
        )
    needs_id = command in ("score", "batch", "cancel")
    rid: RequestId = first_id if needs_id and first_id is not None else NO_ID
    reply_port = None
    try:
        reply_port = _pop_score_reply_port(args) if command == "score" else _pop_reply_port(args, command)
        if needs_id:
            if not args:
                raise ProtocolError(MISSING_ARGUMENT, f"missing arguments; usage: {USAGE[command]}")
            if first_id is None:
                raise ProtocolError(BAD_ARGUMENT, f"id must be a whole number or a word, got {args[0]!r}")
            args = args[1:]
        return _parse_rest(command, rid, args, reply_port)
    except ProtocolError as exc:
        exc.request_id, exc.reply_port = rid, reply_port
        raise


def _parse_rest(command: str, rid: RequestId, args: list[Any], reply_port: int | None) -> Request:
    usage = USAGE[command]
    if command == "score":
        if not args:
            raise ProtocolError(MISSING_ARGUMENT, f"missing the file path; usage: {usage}")
        path = _text(args[0], "path")
        rest = args[1:]
        model = _text(rest[0], "model") if _has_model(rest) else None
        context = _score_context(rest[1:] if model is not None else rest)
        return Request(command, rid, paths=(path,), model=model, reply_port=reply_port, context=context)
    if command == "batch":
        if not args:
            raise ProtocolError(MISSING_ARGUMENT, f"missing the files or folders; usage: {usage}")
        return Request(command, rid, paths=tuple(_text(a, "path") for a in args), reply_port=reply_port)
    if command == "sensitivity":
        if len(args) < 2:
            raise ProtocolError(MISSING_ARGUMENT, f"missing arguments; usage: {usage}")
        if len(args) > 2:
            raise ProtocolError(BAD_ARGUMENT, f"too many arguments; usage: {usage}")
        q = _number(args[1], "quantile")
        if not 0.0 < q < 1.0:
            raise ProtocolError(BAD_ARGUMENT, f"quantile must be between 0 and 1 (exclusive), e.g. 0.95; got {q:g}")
        return Request(command, rid, model=_text(args[0], "model"), quantile=q, reply_port=reply_port)
    if args:  # ping, models, cancel take nothing more
        raise ProtocolError(BAD_ARGUMENT, f"too many arguments; usage: {usage}")
    return Request(command, rid, reply_port=reply_port)


# How many arguments a request has at least when its last one is a reply port.
_MIN_WITH_PORT = {"score": 3, "batch": 3, "cancel": 2, "sensitivity": 3, "ping": 1, "models": 1}


def _pop_reply_port(args: list[Any], command: str) -> int | None:
    """A trailing number beyond the named arguments is the reply port (paths and models are strings)."""
    if len(args) < _MIN_WITH_PORT[command] or not _is_number(args[-1]):
        return None
    value = args.pop()
    port = _whole(value)
    if port is None or not 0 < port < 65536:
        raise ProtocolError(BAD_ARGUMENT, f"reply port must be a whole number from 1 to 65535, got {value!r}")
    return port


def _has_model(rest: list[Any]) -> bool:
    """Whether the argument after `score`'s path is a model name rather than the first named argument.

    A word that is not a known name is a model when it stands alone, before a reply port (the messages of
    protocol 1 before named arguments) or before a known name; otherwise it is read as an unknown name.
    A number below 1024 is no client's reply port, so `tempo 120` is an unknown name, not a model and a port.
    """
    if not rest or not isinstance(rest[0], (str, bytes)) or _name(rest[0]) in SCORE_NAMES:
        return False
    if len(rest) == 2 and _is_number(rest[1]):
        return (_whole(rest[1]) or 0) >= MIN_MODEL_REPLY_PORT
    return len(rest) == 1 or _name(rest[1]) in SCORE_NAMES


def _pop_score_reply_port(args: list[Any]) -> int | None:
    """`score <id> <path> [model] [name value]... [port]`: a port is the odd one out after the pairs, never a value."""
    rest = args[2:]
    pairs = rest[1:] if _has_model(rest) else rest
    if len(pairs) % 2 == 0 or not _is_number(pairs[-1]):
        return None
    return _pop_reply_port(args, "score")


def _name(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip().lower() if isinstance(value, str) else None


METER_PATTERN = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")


def _score_context(pairs: list[Any]) -> TakeContext | None:
    """`bpm 120 key "G minor" meter 4/4 start_s 8 end_s 12 sibling /a.wav ...` → TakeContext (values cast)."""
    if not pairs:
        return None
    given: dict[str, Any] = {}
    siblings: list[str] = []
    for i in range(0, len(pairs), 2):
        name = _name(pairs[i])
        if name not in SCORE_NAMES:
            raise ProtocolError(
                BAD_ARGUMENT, f"unknown named argument {pairs[i]!r}; score knows: {', '.join(SCORE_NAMES)}"
            )
        if i + 1 >= len(pairs):
            raise ProtocolError(MISSING_ARGUMENT, f"named argument {name} has no value; usage: {USAGE['score']}")
        value = pairs[i + 1]
        if name == "sibling":
            siblings.append(_text(value, "sibling"))
            if len(siblings) > MAX_SIBLINGS:
                raise ProtocolError(BAD_ARGUMENT, f"at most {MAX_SIBLINGS} siblings per take")
            continue
        if name in given:
            raise ProtocolError(BAD_ARGUMENT, f"named argument {name} given twice")
        given[name] = _named_value(name, value)
    start, end = given.get("start_s"), given.get("end_s")
    if start is not None and end is not None and end <= start:
        raise ProtocolError(BAD_REGION, f"end_s ({end:g}) must be after start_s ({start:g})")
    return TakeContext(**given, siblings=tuple(siblings), source="request")


def _named_value(name: str, value: Any) -> Any:
    if name in ("start_s", "end_s"):
        x = _number(value, name)
        if x < 0:
            raise ProtocolError(BAD_REGION, f"{name} must be 0 or more seconds of the file, got {x:g}")
        return x
    if name == "bpm":
        x = _number(value, name)
        if not 20.0 <= x <= 999.0:
            raise ProtocolError(BAD_ARGUMENT, f"bpm must be between 20 and 999, got {x:g}")
        return x
    text = _text(value, name).strip()
    if name == "meter" and not METER_PATTERN.match(text):
        raise ProtocolError(BAD_ARGUMENT, f"meter must look like 4/4 or 6/8, got {text!r}")
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> int | None:
    """An int from an int, an integral float (Pure Data) or a numeric string (a Max symbol)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _id_or_none(value: Any) -> RequestId | None:
    if isinstance(value, str):
        value = value.strip()
        return value if value and len(value) <= 64 else None
    n = _whole(value)
    return n if n is not None and -(2**31) <= n < 2**31 else None


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(BAD_ARGUMENT, f"{what} must be a non-empty string, got {value!r}")
    if "\0" in value:  # no file name holds one, and an OSC string ends at the first
        raise ProtocolError(BAD_ARGUMENT, f"{what} must not contain a NUL character, got {value[:80]!r}")
    return value


def _number(value: Any, what: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        x = float(value)
    except (TypeError, ValueError):
        raise ProtocolError(BAD_ARGUMENT, f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ProtocolError(BAD_ARGUMENT, f"{what} must be a finite number, got {value!r}")
    return x


# ---- replies ------------------------------------------------------------------------------------


def message(name: str, *args: Any) -> bytes:
    """One reply datagram: ints as int32, floats as float32, everything else as a string."""
    builder = OscMessageBuilder(PREFIX + name)
    for a in args:
        if isinstance(a, bool):
            builder.add_arg(int(a), OscMessageBuilder.ARG_TYPE_INT)
        elif isinstance(a, int):
            builder.add_arg(a, OscMessageBuilder.ARG_TYPE_INT)
        elif isinstance(a, float):
            builder.add_arg(a if math.isfinite(a) else 0.0, OscMessageBuilder.ARG_TYPE_FLOAT)
        else:  # an OSC string ends at its first NUL: one inside would shift every argument after it
            builder.add_arg(str(a).replace("\0", "\\0"), OscMessageBuilder.ARG_TYPE_STRING)
    dgram = builder.build().dgram
    if len(dgram) > MAX_DATAGRAM:
        raise ValueError(f"reply {name} would be {len(dgram)} bytes, over the {MAX_DATAGRAM}-byte limit")
    return dgram


def short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def error(rid: RequestId, code: str, text: str) -> bytes:
    return message("error", rid, code, short(text))


def file_error(rid: RequestId, path: str, code: str, text: str) -> bytes:
    return message("file_error", rid, path, code, short(text))


def pong(version: str, provider: str) -> bytes:
    return message("pong", PROTOCOL_VERSION, version, provider)


def progress(rid: RequestId, done: int, total: int) -> bytes:
    return message("progress", rid, done, total)


def done(rid: RequestId, n_scored: int, n_flagged: int, n_failed: int) -> bytes:
    return message("done", rid, n_scored, n_flagged, n_failed)


def reason(rid: RequestId, kind: str, severity: float, start_s: float, duration_s: float, text: str) -> bytes:
    return message("reason", rid, kind, float(severity), float(start_s), float(duration_s), short(text))


def compare(rid: RequestId, rank: int, of: int, measure: str, departs_s: float, text: str) -> bytes:
    """`compare <id> <rank> <of> <measure> <departs_s> <message>`: the take among its siblings (rank 1 = tightest);
    measure is the kind of its first departure ("none" when it departs nowhere, then departs_s is -1)."""
    return message("compare", rid, int(rank), int(of), measure, float(departs_s), short(text))


def context(rid: RequestId, judged: dict[str, Any]) -> bytes:
    """`context <id> <bpm> <key> <meter> <bpm_from> <key_from> <meter_from>`: what the musical checks judged the
    take against (MusicContext.as_dict()); an unknown tempo is -1, an unknown key "", each *_from says where."""
    bpm = judged.get("bpm")
    return message(
        "context",
        rid,
        -1.0 if bpm is None else float(bpm),
        judged.get("key") or "",
        judged.get("meter") or "",
        judged.get("bpm_from") or "unknown",
        judged.get("key_from") or "unknown",
        judged.get("meter_from") or "unknown",
    )


def result(rid: RequestId, path: str, model: str, score: float, threshold: float, flag: bool, ms: float) -> bytes:
    return message("result", rid, path, model, float(score), float(threshold), int(flag), float(ms))


def model(name: str, encoder: str, primary: str, quantile: float, thresholds: dict[str, float]) -> bytes:
    """`model <name> <encoder> <primary head> <quantile> <head> <threshold> ...` (primary head first)."""
    pairs: list[Any] = []
    for head in [primary] + [h for h in thresholds if h != primary]:
        pairs += [head, float(thresholds[head])]
    return message("model", name, encoder, primary, float(quantile), *pairs)
