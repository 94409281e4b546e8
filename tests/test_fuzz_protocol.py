"""Property-based fuzzing (hypothesis, bounded) of the request parser and of a real server fed those requests.

Properties: nothing but ProtocolError leaves the parser; every request that carries an id gets exactly one
terminal reply over UDP; datagrams that are not OSC, or not decodable, never stop the server.
"""

from __future__ import annotations

import logging
import os
import time

import pytest
from conftest import tone, write_audio
from helpers_server import MODEL, TERMINAL, OscPeer, make_scorer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from loopbridge.server import protocol
from loopbridge.server.app import OscServer

COMMANDS = [protocol.PREFIX + c for c in protocol.USAGE] + ["/loopbridge/scorch", "/loopbridge/*", "/other/x"]
WORDS = [*protocol.SCORE_NAMES, "tempo", MODEL, "4/4", "G minor", "", " ", "13", "13.0", "-1", "1e3", "x" * 70]
BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
OVER_UDP = settings(BOUNDED, max_examples=300)  # about 15 s: a third of them owe a terminal reply


def _args(paths: list[str]) -> st.SearchStrategy[list]:
    value = st.one_of(
        st.integers(-(2**31), 2**31 - 1),
        st.integers(0, 70_000),
        st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False, width=32),
        st.sampled_from(WORDS + paths),
        st.text(max_size=20),
        st.booleans(),
        st.none(),
        st.binary(min_size=1, max_size=8),
    )
    return st.lists(value, max_size=9)


@BOUNDED
@given(address=st.sampled_from(COMMANDS) | st.text(max_size=30), args=_args(["/a.wav", "/tmp"]))
def test_the_parser_raises_only_protocol_errors_keeping_the_id(address, args):
    try:
        request, error = protocol.parse(address, args), None
    except protocol.ProtocolError as exc:
        request, error = None, exc
    if error is not None:
        assert error.code
        assert error.message
        assert error.reply_port is None or 0 < error.reply_port < 65536
        if error.request_id != protocol.NO_ID:  # the id as the client sent it (a whole float becomes an int)
            assert error.request_id in (args[0], str(args[0]).strip()) or float(args[0]) == error.request_id
        return
    assert request.command in protocol.USAGE
    assert request.reply_port is None or 0 < request.reply_port < 65536
    if request.command in ("score", "batch", "cancel"):
        assert request.id != protocol.NO_ID or args[0] in (-1, -1.0, "-1")


def _requests(paths: list[str]) -> st.SearchStrategy[list]:
    """Anything at all, or an id followed by the protocol's own words and values in any order."""
    rid = st.one_of(
        st.integers(-5, 10**6),
        st.integers(0, 1000).map(float),
        st.integers(0, 1000).map(str),
        st.sampled_from(["take-1", " 7 ", "x" * 64]),
    )
    word = st.sampled_from([*paths, *protocol.SCORE_NAMES, "tempo", MODEL, 0, 2, 4.0, "4/4", "G minor", "120", -1, 1.5])
    return st.one_of(_args(paths), st.builds(lambda i, rest: [i, *rest], rid, st.lists(word, max_size=7)))


def _expected_id(address: str, args: list):
    """The id whose one terminal reply the server owes, per the parser (None when it owes none)."""
    try:
        request = protocol.parse(address, args)
    except protocol.ProtocolError as exc:
        return None if exc.request_id == protocol.NO_ID or exc.reply_port else exc.request_id
    if request.command not in ("score", "batch", "cancel") or request.reply_port or request.id == protocol.NO_ID:
        return None
    return request.id


def _datagram(address: str, args: list) -> bytes:
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


@pytest.fixture(scope="module")
def server_and_client(model_files, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "sub").mkdir()
    (root / "junk.wav").write_text("not audio")
    write_audio(root / "take.wav", tone(1.0))
    old = time.time() - 5
    os.utime(root / "take.wav", (old, old))
    client = OscPeer()
    server = OscServer(
        {MODEL: make_scorer(model_files)}, port=0, reply_port=client.port, allow_roots=[root.resolve()], wait_s=0.2
    ).start()
    yield server, client.talk_to(server.address), root
    server.stop()
    client.close()


def test_every_request_with_an_id_gets_exactly_one_terminal_reply(server_and_client, caplog):
    _server, client, root = server_and_client
    paths = [str(root / n) for n in ("take.wav", "junk.wav", "sub", "none.wav", "take.wav/")] + ["/etc/passwd"]

    @OVER_UDP
    @given(address=st.sampled_from(COMMANDS), args=_requests(paths))
    def run(address, args):
        if address.endswith("/batch") and len(args) > 1:
            args = args[:3]  # keep batches short: the property, not the scoring, is under test
        rid = _expected_id(address, args)
        client.inbox.clear()
        client.send_raw(_datagram(address, args))
        if rid is not None:
            client.terminal(rid, timeout=10, batch=address.endswith("/batch"))
        client.send("/loopbridge/ping")  # everything about this request is answered before the next ping's pong
        client.next_of("/loopbridge/pong", timeout=10)
        time.sleep(0.02)
        ends = {"/loopbridge/done", "/loopbridge/error"} if address.endswith("/batch") else TERMINAL
        terminals = [m for m in client.inbox if m[0] in ends and m[1] and m[1][0] == rid]
        assert len(terminals) == (0 if rid is None else 1), (address, args, client.inbox)

    with caplog.at_level(logging.ERROR, logger="loopbridge.server"):
        run()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a request raised inside the server"


@BOUNDED
@given(
    data=st.one_of(
        st.binary(max_size=64),
        st.builds(lambda a, cut: _datagram(a, [1, "/a.wav", 2.5])[:cut], st.sampled_from(COMMANDS), st.integers(0, 40)),
        st.builds(
            lambda tag: b"/loopbridge/score\0\0\0," + tag + b"\0" * (4 - (len(tag) + 1) % 4) + b"\0" * 8,
            st.text("ifsbhdtTFNZXc[]", max_size=6).map(str.encode),
        ),
    )
)
def test_garbage_datagrams_never_stop_the_server(server_and_client, data, capsys):
    _server, client, _ = server_and_client
    client.inbox.clear()
    client.send_raw(data)
    client.send("/loopbridge/ping")
    client.next_of("/loopbridge/pong", timeout=10)
    assert "Unhandled parameter type" not in capsys.readouterr().err  # python-osc's warning never reaches the user
