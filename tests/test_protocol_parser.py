"""The OSC request parser on its own, without sockets: every malformed shape the UDP tests send, ids, named arguments."""

from __future__ import annotations

import pytest

from loopbridge.context import TakeContext
from loopbridge.server import protocol
from loopbridge.server.protocol import ProtocolError, parse

SCORE = "/loopbridge/score"


def _error(address: str, *args: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(address, list(args))
    return info.value


@pytest.mark.parametrize(
    ("address", "args", "code", "rid"),
    [
        (SCORE, ["take.wav"], protocol.MISSING_ARGUMENT, "take.wav"),  # a word is an id: the path is missing
        (SCORE, [1, 42.5], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, ""], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a\0.wav"], protocol.BAD_ARGUMENT, 1),
        ("/loopbridge/batch", [1, "/a", "/b\0"], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1.5, "/a.wav"], protocol.BAD_ARGUMENT, protocol.NO_ID),
        (SCORE, [], protocol.MISSING_ARGUMENT, protocol.NO_ID),
        (SCORE, [1], protocol.MISSING_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "m", "x"], protocol.BAD_ARGUMENT, 1),  # "m" is then an unknown name
        (SCORE, [1, "/a.wav", 0], protocol.BAD_ARGUMENT, 1),  # reply port 0
        (SCORE, [1, "/a.wav", 70000], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "tempo", 120, "bpm", 90], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "bpm"], protocol.MISSING_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "bpm", "fast"], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "bpm", float("nan")], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "bpm", 5], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "bpm", 120, "bpm", 121], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "meter", "four"], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "key", 5], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "sibling", 3], protocol.BAD_ARGUMENT, 1),
        (SCORE, [1, "/a.wav", "start_s", 4, "end_s", 4], protocol.BAD_REGION, 1),
        (SCORE, [1, "/a.wav", "start_s", -1], protocol.BAD_REGION, 1),
        ("/loopbridge/batch", [9], protocol.MISSING_ARGUMENT, 9),
        ("/loopbridge/batch", [9, 3.0, "/a.wav"], protocol.BAD_ARGUMENT, 9),
        ("/loopbridge/cancel", [], protocol.MISSING_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/cancel", [4, "x"], protocol.BAD_ARGUMENT, 4),
        ("/loopbridge/ping", [70000], protocol.BAD_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/ping", ["x"], protocol.BAD_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/models", [1, 2], protocol.BAD_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/sensitivity", ["bass"], protocol.MISSING_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/sensitivity", ["bass", 1.5], protocol.BAD_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/sensitivity", ["bass", "loud"], protocol.BAD_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/sensitivity", ["bass", 0.9, "x"], protocol.BAD_ARGUMENT, protocol.NO_ID),
        ("/loopbridge/scorch", [1, "/a.wav"], protocol.UNKNOWN_ADDRESS, 1),
        ("/loopbridge/*", [1, "/a.wav"], protocol.UNKNOWN_ADDRESS, 1),
        ("/other/thing", ["hello"], protocol.UNKNOWN_ADDRESS, protocol.NO_ID),
    ],
)
def test_malformed_requests_name_the_problem_and_keep_the_id(address, args, code, rid):
    exc = _error(address, *args)
    assert (exc.code, exc.request_id) == (code, rid)
    assert exc.message


def test_a_word_and_a_small_number_is_an_unknown_name_not_a_model_and_a_port():
    exc = _error(SCORE, 5, "/take.wav", "tempo", 120)
    assert exc.code == protocol.BAD_ARGUMENT
    assert "'tempo'" in exc.message
    assert exc.reply_port is None


def test_unknown_named_argument_is_named_in_the_error():
    exc = _error(SCORE, 31, "/take.wav", "start_s", 0.0, "tempo", 120)
    assert exc.code == protocol.BAD_ARGUMENT
    assert "'tempo'" in exc.message
    assert "start_s" in exc.message


def test_a_named_value_is_never_the_reply_port():
    """Today's bug: `start_s 0.0 end_s 4.0` sent its replies to port 4."""
    req = parse(SCORE, [31, "/take.wav", "start_s", 0.0, "end_s", 4.0])
    assert req.reply_port is None
    assert req.context == TakeContext(start_s=0.0, end_s=4.0, source="request")
    assert req.context.region == (0.0, 4.0)


def test_a_lone_trailing_number_after_the_pairs_is_the_reply_port():
    req = parse(SCORE, [31, "/take.wav", "start_s", 0, "end_s", 4, 9123])
    assert req.reply_port == 9123
    assert req.context.region == (0.0, 4.0)
    err = _error(SCORE, 31, "/take.wav", "bpm", 120, "tempo", 3, 9123)  # errors go to that port too
    assert err.reply_port == 9123


def test_what_the_device_sends_is_accepted():
    """As max_for_live/loopbridge.js builds it: ints where the region is whole, key as root + scale name, model."""
    args = [81000, "/Set/Gtr 0003.wav", "bass", "start_s", 8, "end_s", 12.5, "bpm", 120, "meter", "4/4"]
    args += ["key", "A Minor", "sibling", "/Set/Gtr 0001.wav", "sibling", "/Set/Gtr 0002.wav", 9137]
    req = parse(SCORE, args)
    assert (req.id, req.paths, req.model, req.reply_port) == (81000, ("/Set/Gtr 0003.wav",), "bass", 9137)
    assert req.context == TakeContext(
        bpm=120.0,
        key="A Minor",
        meter="4/4",
        start_s=8.0,
        end_s=12.5,
        siblings=("/Set/Gtr 0001.wav", "/Set/Gtr 0002.wav"),
        source="request",
    )


def test_named_values_may_be_numbers_as_strings_and_names_any_case():
    """Max may send a number typed as a symbol; Pure Data sends floats."""
    req = parse(SCORE, ["7", "/a.wav", "BPM", "98.5", "start_s", "1.5", "end_s", 3])
    assert req.context.bpm == 98.5
    assert req.context.region == (1.5, 3.0)
    assert parse(SCORE, [7, "/a.wav", "end_s", 2.0]).context.region == (0.0, 2.0)


@pytest.mark.parametrize(
    ("args", "model", "port"),
    [
        ([1, "/a.wav"], None, None),
        ([1, "/a.wav", "bass"], "bass", None),
        ([1, "/a.wav", 9123], None, 9123),
        ([1, "/a.wav", 9123.0], None, 9123),  # Pure Data
        ([1, "/a.wav", "bass", 9123], "bass", 9123),
        ([1, "/a.wav", "bass", "bpm", 120], "bass", None),
        ([1, "/a.wav", "bass", "bpm", 120, 9123], "bass", 9123),
    ],
)
def test_protocol_1_messages_keep_their_meaning(args, model, port):
    req = parse(SCORE, args)
    assert (req.model, req.reply_port) == (model, port)


def test_ids_in_any_form_are_one_id_and_replies_use_the_form_sent():
    forms = [parse("/loopbridge/cancel", [rid]) for rid in (213, 213.0, "213", " 213 ")]
    assert {r.key_id for r in forms} == {213}
    assert [r.id for r in forms] == [213, 213, "213", "213"]
    word = parse(SCORE, ["take-1", "/a.wav"])
    assert word.id == word.key_id == "take-1"
    assert parse("/loopbridge/cancel", ["1e3"]).key_id == 1000
    assert parse("/loopbridge/cancel", ["12abc"]).key_id == "12abc"


def test_a_reply_with_a_nul_in_a_string_stays_one_readable_message():
    from pythonosc.osc_message import OscMessage

    msg = OscMessage(protocol.file_error(5, "/a\0b.wav", "missing", "x"))
    assert msg.params == [5, "/a\\0b.wav", "missing", "x"]


def test_wellformed_requests_parse_to_their_fields():
    assert parse("/loopbridge/batch", [9, "/a", "/b.wav", 9001]) == protocol.Request(
        "batch", 9, paths=("/a", "/b.wav"), reply_port=9001
    )
    assert parse("/loopbridge/sensitivity", ["bass", "0.9"]).quantile == 0.9
    assert parse("/loopbridge/ping", [9123.0]).reply_port == 9123
    assert parse("/loopbridge/models", []).command == "models"
