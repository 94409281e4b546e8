"""What real writers and clients do to a server, over real UDP on 127.0.0.1: special files, symlinks,
trailing slashes, empty folders, OSC types python-osc does not know."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import tone, write_audio
from helpers_server import MODEL, OscPeer, make_scorer

from loopbridge.server import protocol
from loopbridge.server.app import OscServer


@pytest.fixture
def serve(model_files):
    made: list[tuple[OscServer, OscPeer]] = []

    def start(**kw) -> OscPeer:
        client = OscPeer()
        server = OscServer({MODEL: make_scorer(model_files)}, port=0, reply_port=client.port, **kw).start()
        made.append((server, client))
        return client.talk_to(server.address)

    yield start
    for server, client in made:
        server.stop()
        client.close()


def _good(folder: Path) -> Path:
    take = write_audio(folder / "good.wav", tone(1.0, freq=137.5, amp=0.35, seed=3))
    old = time.time() - 5
    os.utime(take, (old, old))
    return take


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_a_special_file_is_refused_at_once_and_the_next_take_is_scored(serve, tmp_path, special):
    """A FIFO used to hang the only scoring thread; /dev/zero was 'empty (0 bytes)'."""
    client = serve(wait_s=3.0)
    path = tmp_path / "take.wav" if special == "fifo" else Path(special)
    if special == "fifo":
        os.mkfifo(path)
    t0 = time.monotonic()
    client.send("/loopbridge/score", 1, str(path))
    addr, (_, code, text) = client.terminal(1)
    assert (addr, code) == ("/loopbridge/error", "not_a_file")
    assert time.monotonic() - t0 < 1.0
    assert text.startswith(str(path) + ":")
    client.send("/loopbridge/score", 2, str(_good(tmp_path)))
    assert client.terminal(2)[0] == "/loopbridge/result"


def test_errors_name_the_path_the_client_sent_not_a_symlinks_target(serve, tmp_path):
    client = serve()
    target = tmp_path / "store" / "Take 7.wav"
    target.parent.mkdir()
    target.write_text("not audio")
    old = time.time() - 5
    os.utime(target, (old, old))
    link = tmp_path / "Live set" / "take.wav"
    link.parent.mkdir()
    link.symlink_to(target)
    client.send("/loopbridge/score", 1, str(link))
    addr, (_, code, text) = client.terminal(1)
    assert (addr, code) == ("/loopbridge/error", "not_audio")
    assert text.startswith(str(link) + ":")
    assert "Take 7" not in text
    client.send("/loopbridge/batch", 2, str(link.parent))
    client.terminal(2, batch=True)
    (failed,) = [p for a, p in client.for_id(2) if a == "/loopbridge/file_error"]
    assert failed[1] == str(link)
    assert failed[3].startswith(str(link) + ":")


def test_a_trailing_slash_on_a_file_is_refused(serve, tmp_path):
    client = serve()
    take = _good(tmp_path)
    client.send("/loopbridge/score", 1, str(take) + "/")
    addr, (_, code, text) = client.terminal(1)
    assert (addr, code) == ("/loopbridge/error", protocol.BAD_ARGUMENT)
    assert "'/'" in text


def test_an_empty_folder_batch_reports_progress_before_its_file_error(serve, tmp_path):
    client = serve()
    (tmp_path / "empty").mkdir()
    client.send("/loopbridge/batch", 3, str(tmp_path / "empty"))
    _addr, done = client.terminal(3, batch=True)
    msgs = client.for_id(3)
    kinds = [a for a, _ in msgs]
    assert kinds == ["/loopbridge/progress", "/loopbridge/file_error", "/loopbridge/progress", "/loopbridge/done"]
    assert [msgs[0][1][1:], msgs[2][1][1:]] == [[0, 1], [1, 1]]
    assert msgs[1][1][2] == "empty"
    assert done[1:] == [0, 0, 1]


def test_an_osc_type_python_osc_does_not_know_is_logged_not_printed(serve, tmp_path, capfd, caplog):
    client = serve()
    dgram = b"/loopbridge/score\0\0\0,iZ\0" + (7).to_bytes(4, "big")  # Z: not an OSC 1.0 type
    client.send_raw(dgram)
    client.send("/loopbridge/ping")
    client.next_of("/loopbridge/pong")
    out, err = capfd.readouterr()
    assert "Unhandled parameter type" not in out + err
    assert any("unsupported type 'Z'" in r.getMessage() for r in caplog.records)
    assert client.for_id(7) == []
