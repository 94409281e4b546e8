"""`loopbridge browse` in a real headless Chromium (Debian's, driven by Playwright) against the app as a user starts it.

A mel-stats model is fitted on synthetic loops; the takes are clean loops, white noise and a loop with one
injected click. What the page shows is compared with what `loopbridge score --json` prints for the same files.
Set LOOPBRIDGE_BROWSE_SCREENSHOT=docs/browse.png to save the README's picture while the tests run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_audio
from helpers_heads import write_loops, write_noise

from loopbridge.cli import main
from loopbridge.synth import inject, make_loop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if os.environ.get("CI") != "true":  # CI installs both (.ci/run); a developer without them gets a skip
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (test extra)")
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium)", allow_module_level=True)
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

MAX_UPLOAD_MB = 1
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("browse")
    home = root / "home"
    write_loops(root / "lib" / "bass_120bpm_Am", 12)
    takes = root / "takes"
    write_loops(takes, 4, seed=500)
    write_noise(takes, 2)
    loop = make_loop(777, bars=2, bpm=160.0)
    clicky, defect = inject(loop.samples, loop.sample_rate, "click", np.random.default_rng(3))
    write_audio(takes / "clicky_take.wav", clicky)
    write_audio(root / "private" / "secret.wav", clicky)
    env = {**os.environ, "LOOPBRIDGE_HOME": str(home)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPBRIDGE_HOME", str(home))
        fit = ["fit", str(root / "lib"), "--name", "m", "--encoder", "mel-stats", "--heads", "knn,pca,mahalanobis"]
        assert main([*fit, "--no-progress"]) == 0
        reference = {q: _score_json(takes, q) for q in (None, 0.5, 0.8)}
    return {"root": root, "home": home, "takes": takes, "env": env, "defect": defect, "reference": reference}


def _score_json(takes: Path, quantile: float | None) -> list[dict]:
    out = io.StringIO()
    argv = ["score", str(takes), "--model", "m", "--json"] + ([] if quantile is None else ["--quantile", str(quantile)])
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def server(world) -> Iterator[str]:
    """`loopbridge browse` started the way a user starts it, on any free port; yields its URL."""
    argv = ["browse", "--model", "m", str(world["takes"]), "--no-open", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopbridge", *argv, "--max-upload-mb", str(MAX_UPLOAD_MB)],
        env=world["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url, lines, deadline = None, [], time.monotonic() + 180
    assert proc.stdout is not None
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if m := re.search(r"(http://127\.0\.0\.1:\d+)/", line):
            url = m.group(1)
    assert url, "".join(lines)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--autoplay-policy=no-user-gesture-required", "--enable-unsafe-swiftshader", "--mute-audio"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    pg = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(server + "/")
    try:
        pg.wait_for_selector("body[data-ready='1']", timeout=60_000)
    except PlaywrightError as exc:
        raise AssertionError(f"the page never got ready: {errors}") from exc
    yield pg
    pg.close()
    assert not errors, errors


def table_paths(page: Page) -> list[str]:
    return page.eval_on_selector_all("#takes tbody tr", "rows => rows.map(r => r.dataset.path)")


def test_map_has_one_point_per_take_and_library_loop(page, world):
    reference = world["reference"][None]
    counts = page.evaluate(
        "() => { const d = document.getElementById('map').data; return [d[0].x.length, d[1].x.length] }"
    )
    assert counts == [12, len(reference)]
    assert page.evaluate("document.getElementById('map').data[1].type") == "scattergl"  # WebGL: 10k points stay fluid
    flagged = sum(r["flag"] for r in reference)
    assert page.text_content("#flagged-count") == str(flagged)
    assert 0 < flagged < len(reference)


def test_sorting_and_filters_match_score_json(page, world):
    reference = world["reference"][None]
    assert table_paths(page) == [r["file"] for r in reference]  # score, highest first, as `score` prints it
    page.click("#takes th[data-sort='score']")
    assert table_paths(page) == [r["file"] for r in reversed(reference)]
    page.click("#takes th[data-sort='name']")
    assert table_paths(page) == sorted((r["file"] for r in reference), key=lambda f: Path(f).name.lower())
    page.click("#takes th[data-sort='duration_s']")
    by_duration = table_paths(page)
    assert Path(by_duration[0]).name == "clicky_take.wav"  # two bars, the others one
    durations = {r["file"]: r["duration_s"] for r in reference}
    assert [durations[p] for p in by_duration] == sorted(durations.values(), reverse=True)

    page.check("#flagged-only")
    assert set(table_paths(page)) == {r["file"] for r in reference if r["flag"]}
    page.select_option("#kind", "click")
    assert set(table_paths(page)) == {r["file"] for r in reference if "click" in r["flagged_by"]} != set()
    page.select_option("#kind", "")
    page.uncheck("#flagged-only")
    page.fill("#name-filter", "noise")
    assert {Path(p).name for p in table_paths(page)} == {"noise_00.wav", "noise_01.wav"}


def test_table_pages(browser, server, world):
    pg = browser.new_page()
    pg.goto(server + "/?page_size=3")
    pg.wait_for_selector("body[data-ready='1']", timeout=60_000)
    n = len(world["reference"][None])
    pages = -(-n // 3)
    seen = []
    for page_no in range(1, pages + 1):
        assert pg.text_content("#page") == f"page {page_no} of {pages} ({n} takes)"
        rows = table_paths(pg)
        assert len(rows) == min(3, n - 3 * (page_no - 1))
        seen += rows
        pg.click("#next")
    assert pg.text_content("#page") == f"page {pages} of {pages} ({n} takes)"  # no page past the last
    assert seen == [r["file"] for r in world["reference"][None]]
    pg.click("#prev")
    assert table_paths(pg) == seen[3:6]
    pg.close()


def _click_take_on_map(page: Page, name: str) -> None:
    """Move the mouse onto the take's point (pixel position from the plot's own axes) and click it."""
    xy = page.evaluate(
        """name => {
            const gd = document.getElementById('map'), l = gd._fullLayout, t = gd.data[1];
            const i = t.text.findIndex(s => s.startsWith(name + '<br>'));
            const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + l.xaxis.l2p(t.x[i]), box.top + l.yaxis.l2p(t.y[i])];
        }""",
        name,
    )
    page.mouse.move(xy[0] - 20, xy[1] - 20)
    page.mouse.move(*xy)
    page.wait_for_timeout(300)
    page.mouse.click(*xy)


def test_clicking_a_point_selects_it_and_its_audio_plays(page, world):
    served: list[tuple[int, str | None]] = []
    page.on(
        "response",
        lambda r: served.append((r.status, r.request.headers.get("range"))) if "/audio?" in r.url else None,
    )
    _click_take_on_map(page, "clicky_take.wav")
    page.wait_for_function("document.getElementById('detail-name')?.textContent === 'clicky_take.wav'")
    hover = page.text_content("#map .hoverlayer")  # the mouse is still on the point
    clicky = next(r for r in world["reference"][None] if r["file"].endswith("clicky_take.wav"))
    assert "clicky_take.wav" in hover
    assert f"{clicky['score']:.3f}" in hover
    assert clicky["reasons"][0]["message"] in hover
    assert page.get_attribute("#takes tr.selected", "data-path").endswith("clicky_take.wav")
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function("document.getElementById('player').currentTime > 0.2", timeout=20_000)
    assert any(status in (200, 206) and rng for status, rng in served), served  # the browser asked for a range
    assert any(status == 206 for status, _ in served), served
    heads = page.eval_on_selector_all("#heads tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert heads == ["knn (decides)", "pca", "mahalanobis"]
    assert page.locator("#neighbours li").count() == 5
    page.click("#neighbours li:first-child button")
    page.wait_for_function("document.getElementById('neighbour-player').currentTime > 0.1", timeout=20_000)


def test_reasons_are_drawn_at_their_times(page, world):
    reference = {Path(r["file"]).name: r for r in world["reference"][None]}
    found = reference["clicky_take.wav"]["reasons"]
    assert [f["kind"] for f in found] == ["click"]
    assert found[0]["start_s"] == pytest.approx(world["defect"].start_s, abs=0.01)  # the checks found the click
    page.click("#takes tbody tr[data-path$='clicky_take.wav']")
    page.wait_for_function("document.getElementById('wave')?.layout")
    spans = page.evaluate(
        """() => {
            const gd = document.getElementById('wave'), l = gd._fullLayout;
            const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
            const paths = [...gd.querySelectorAll('.shapelayer path')].map(p => p.getBoundingClientRect());
            return gd.layout.shapes.slice(1).map((s, i) => ({
                x0: s.x0, x1: s.x1, name: s.name, expected_left: box.left + l.xaxis.l2p(s.x0), drawn_left: paths[i + 1].left,
            }));
        }"""
    )
    assert len(spans) == len(found)
    for span, f in zip(spans, found, strict=True):
        assert span["name"] == f["kind"]
        assert span["x0"] == pytest.approx(f["start_s"])
        assert span["x1"] == pytest.approx(f["start_s"] + f["duration_s"])
        assert span["drawn_left"] == pytest.approx(span["expected_left"], abs=2)  # on screen where the time is
    assert f"click at {found[0]['start_s']:.3f} s" in page.text_content("#reasons")
    if target := os.environ.get("LOOPBRIDGE_BROWSE_SCREENSHOT"):
        page.screenshot(path=target, full_page=True)


@pytest.mark.parametrize("quantile", [0.5, 0.8])
def test_slider_gives_the_flag_count_of_score_quantile(page, world, quantile):
    expected = world["reference"][quantile]
    page.fill("#quantile", str(quantile))
    page.wait_for_selector(f"body[data-quantile='{quantile}']")
    assert page.text_content("#flagged-count") == str(sum(r["flag"] for r in expected))
    page.check("#flagged-only")
    assert set(table_paths(page)) == {r["file"] for r in expected if r["flag"]}
    default = sum(r["flag"] for r in world["reference"][None])
    assert sum(r["flag"] for r in expected) > default  # a lower quantile really flags more


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def audio_url(server: str, path: Path | str) -> str:
    return f"{server}/audio?path={urllib.parse.quote(str(path))}"


def test_audio_only_from_allowed_roots_with_ranges(server, world):
    takes, root = world["takes"], world["root"]
    (takes / "links").mkdir(exist_ok=True)  # a link inside an allowed root to a file outside it
    (takes / "links" / "link.wav").symlink_to(root / "private" / "secret.wav")
    assert _get(audio_url(server, root / "private" / "secret.wav"))[0] == 403
    assert _get(audio_url(server, takes / ".." / "private" / "secret.wav"))[0] == 403
    assert _get(audio_url(server, takes / "links" / "link.wav"))[0] == 403
    assert _get(audio_url(server, "/etc/passwd"))[0] == 403
    lib_loop = root / "lib" / "bass_120bpm_Am" / "loop_00.wav"
    status, body, _ = _get(audio_url(server, lib_loop))
    assert status == 200
    assert body == lib_loop.read_bytes()  # the model's training folder is an allowed root too
    status, body, headers = _get(audio_url(server, takes / "loop_00.wav"), {"Range": "bytes=100-199"})
    assert status == 206
    assert body == (takes / "loop_00.wav").read_bytes()[100:200]
    assert headers["content-range"] == f"bytes 100-199/{(takes / 'loop_00.wav').stat().st_size}"
    assert _get(audio_url(server, takes / "loop_00.wav"), {"Range": "bytes=999999999-"})[0] == 416


def test_dropped_file_is_scored_like_score_and_kept_out_of_user_folders(page, server, world, tmp_path):
    before = sorted(p.name for p in world["takes"].iterdir())
    dropped = write_audio(tmp_path / "drop" / "new_take.wav", (0.5 * np.random.default_rng(5).standard_normal(72_000)))
    expected = _score_json_env(dropped.parent, world["home"])[0]
    page.set_input_files("#upload", str(dropped))
    page.wait_for_function("document.getElementById('detail-name')?.textContent === 'new_take.wav'", timeout=60_000)
    assert page.evaluate("document.getElementById('map').data[1].x.length") == len(world["reference"][None]) + 1
    shown = page.eval_on_selector("#takes tr.selected", "r => [...r.cells].map(c => c.textContent)")
    assert shown[0] == ("OFF" if expected["flag"] else "ok")
    assert float(shown[4]) == pytest.approx(expected["score"], rel=1e-3)
    assert sorted(p.name for p in world["takes"].iterdir()) == before

    req = urllib.request.Request(f"{server}/api/upload?name=notes.wav", data=b"not audio at all" * 100, method="POST")
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(req, timeout=30)
    assert bad.value.code == 415
    assert "not a readable audio file" in json.loads(bad.value.read())["error"]
    limit = MAX_UPLOAD_MB * 1_000_000
    assert _post_raw(server, {"Content-Length": str(limit + 1)}, b"") == 413  # refused on the declared size
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b"\0" * 100_000] * 11) + b"0\r\n\r\n"
    assert _post_raw(server, {"Transfer-Encoding": "chunked"}, chunked) == 413  # and while reading an undeclared one


def _post_raw(server: str, headers: dict[str, str], body: bytes) -> int:
    """POST an upload over a plain socket (the server may answer before the body is all sent); the status code."""
    host, port = urllib.parse.urlsplit(server).netloc.split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, **headers}.items())
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"POST /api/upload?name=big.wav HTTP/1.1\r\n{head}\r\n".encode())
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(body)
        return int(s.recv(4096).split()[1])


def _score_json_env(folder: Path, home: Path) -> list[dict]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPBRIDGE_HOME", str(home))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["score", str(folder), "--model", "m", "--json"]) == 0
    return json.loads(out.getvalue())
