"""One reply schema for both ends: the server's reply builders and the device's decoder read bridge/server/replies.json."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pythonosc.osc_message import OscMessage

from loopbridge import m4l
from loopbridge.server import protocol

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = m4l.reply_schema()


def _pairs(args: list[Any]) -> dict[str, float]:
    return dict(zip(args[::2], args[1::2], strict=True))


def _type_tags(dgram: bytes) -> list[str]:
    """The OSC type tags after the address (which is NUL-padded to 4 bytes)."""
    start = dgram.index(b"\0")
    start += 4 - start % 4
    return list(dgram[start + 1 : dgram.index(b"\0", start)].decode())


# Each reply builder called with a schema example's values (the builders take Python-shaped arguments).
BUILDERS: dict[str, Callable[[list[Any]], bytes]] = {
    "pong": lambda a: protocol.pong(a[1], a[2]),
    "model": lambda a: protocol.model(a[0], a[1], a[2], a[3], _pairs(a[4:])),
    "reason": lambda a: protocol.reason(*a),
    "context": lambda a: protocol.context(
        a[0], {"bpm": a[1], "key": a[2], "meter": a[3], "bpm_from": a[4], "key_from": a[5], "meter_from": a[6]}
    ),
    "compare": lambda a: protocol.compare(*a),
    "result": lambda a: protocol.result(a[0], a[1], a[2], a[3], a[4], bool(a[5]), a[6]),
    "progress": lambda a: protocol.progress(*a),
    "done": lambda a: protocol.done(*a),
    "file_error": lambda a: protocol.file_error(*a),
    "error": lambda a: protocol.error(*a),
}


def test_the_schema_names_every_reply_builder_and_the_protocol_version() -> None:
    assert set(SCHEMA["replies"]) == set(BUILDERS)
    assert SCHEMA["prefix"] == protocol.PREFIX
    assert SCHEMA["protocol_version"] == protocol.PROTOCOL_VERSION


@pytest.mark.parametrize("name", sorted(SCHEMA["replies"]))
def test_each_reply_the_server_builds_has_the_schema_address_types_and_values(name: str) -> None:
    spec = SCHEMA["replies"][name]
    example = spec["example"]
    message = OscMessage(BUILDERS[name](example))
    assert message.address == SCHEMA["prefix"] + name
    tags = _type_tags(message.dgram)
    fixed = ["i" if a["type"] == "id" else a["type"] for a in spec["args"]]
    assert tags[: len(fixed)] == fixed
    rest = spec.get("rest")
    extra = tags[len(fixed) :]
    if rest is None:
        assert extra == []
    else:
        assert extra == [rest["types"][i % len(rest["types"])] for i in range(len(extra))]
    for got, want in zip(message.params, example, strict=True):
        assert got == (pytest.approx(want, rel=1e-6) if isinstance(want, float) else want)


def test_unknown_tempo_and_key_read_as_minus_one_and_empty() -> None:
    judged = {"bpm": None, "bpm_from": "unknown", "key": None, "key_from": "unknown", "meter": "4/4"}
    message = OscMessage(protocol.context(5, judged))
    assert list(message.params) == [5, -1.0, "", "4/4", "unknown", "unknown", "unknown"]


def test_a_word_id_is_a_string_where_the_schema_says_id() -> None:
    message = OscMessage(protocol.error("take-a", "busy", "the queue is full"))
    assert list(message.params) == ["take-a", "busy", "the queue is full"]


def test_the_committed_device_script_is_the_assembly_of_its_modules_and_the_schema() -> None:
    committed = (ROOT / "max_for_live" / "loopbridge.js").read_bytes()
    assert committed == m4l.assemble(m4l.sources().joinpath("src"), SCHEMA), (
        "max_for_live/loopbridge.js is stale: run `python -m loopbridge.m4l assemble`"
    )
    assert b'"result"' in committed
    assert m4l.script_bytes() == committed
