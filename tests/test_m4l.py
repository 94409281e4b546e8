"""The Max for Live device builds from text into a well-formed frozen .amxd, wired as the server expects."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_m4l import read_frozen_amxd

from loopbridge import m4l
from loopbridge.errors import LoopbridgeError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("device")
    done = subprocess.run(
        [sys.executable, "-m", "loopbridge.m4l", "build", "--out", str(out)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def patcher(built: Path) -> dict:
    _, data = read_frozen_amxd((built / "loopbridge.amxd").read_bytes())["loopbridge.amxd"]
    assert data.endswith(b"\0")
    return json.loads(data[:-1].decode("utf-8"))


def boxes_by_text(patcher: dict, first_word: str) -> list[dict]:
    return [b["box"] for b in patcher["patcher"]["boxes"] if b["box"].get("text", "").split()[:1] == [first_word]]


def cords(patcher: dict) -> set[tuple[str, int, str, int]]:
    return {(*c["patchline"]["source"], *c["patchline"]["destination"]) for c in patcher["patcher"]["lines"]}


def test_build_writes_the_device_and_its_script_side_by_side(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == ["loopbridge.amxd", "loopbridge.js"]
    assert (built / "loopbridge.js").read_bytes() == (ROOT / "max_for_live" / "loopbridge.js").read_bytes()


def test_amxd_is_ampf_meta_ptch_chunks_of_an_audio_effect(built: Path) -> None:
    data = (built / "loopbridge.amxd").read_bytes()
    chunks = m4l.read_chunks(data)
    assert [tag for tag, _ in chunks] == [b"ampf", b"meta", b"ptch"]
    assert chunks[0][1] == b"aaaa"
    assert len(chunks[1][1]) == 4
    assert data[:12] == b"ampf\x04\x00\x00\x00aaaa"


def test_patcher_json_is_the_repo_patcher_and_declares_an_audio_effect(patcher: dict) -> None:
    source = json.loads((ROOT / "max_for_live" / "loopbridge.maxpat").read_text(encoding="utf-8"))
    assert patcher == source
    assert patcher["patcher"]["project"]["amxdtype"] == int.from_bytes(b"aaaa", "big")


def test_ports_and_script_match_the_server_defaults(patcher: dict) -> None:
    (send,) = boxes_by_text(patcher, "udpsend")
    (receive,) = boxes_by_text(patcher, "udpreceive")
    (js,) = boxes_by_text(patcher, "js")
    assert send["text"].split()[1:] == ["127.0.0.1", "9000"]
    assert receive["text"].split()[1:] == ["9001"]
    assert js["text"].split()[1] == "loopbridge.js"
    assert js["numoutlets"] == 8
    assert (js["id"], 0, send["id"], 0) in cords(patcher)  # requests go out
    assert (receive["id"], 0, js["id"], 0) in cords(patcher)  # replies come in


def test_port_boxes_are_saved_with_the_set_and_start_at_the_defaults(patcher: dict) -> None:
    boxes = {b["box"]["id"]: b["box"] for b in patcher["patcher"]["boxes"]}
    for box_id, default, target in (("obj-outport", 9000, "udpsend"), ("obj-inport", 0, "udpreceive")):
        box = boxes[box_id]
        value = box["saved_attribute_attributes"]["valueof"]
        assert box["parameter_enable"] == 1
        assert value["parameter_initial_enable"] == 1
        assert value["parameter_initial"] == [default]
        assert value["parameter_type"] == 0  # float: Live limits int parameters to 0-255
        assert target in {t.split()[0] for t in downstream_texts(patcher, box_id) if t}


def test_settings_persist_and_reach_the_script(patcher: dict) -> None:
    boxes = {b["box"]["id"]: b["box"] for b in patcher["patcher"]["boxes"]}
    (js,) = boxes_by_text(patcher, "js")
    for box_id in (
        "obj-sensitivity",
        "obj-markok",
        "obj-marks",
        "obj-markcolour",
        "obj-asciimarks",
        "obj-savedmodel",
        "obj-inport",
    ):
        assert boxes[box_id]["parameter_enable"] == 1, box_id
        assert js["text"] in downstream_texts(patcher, box_id), box_id
    assert boxes["obj-savedmodel"]["saved_attribute_attributes"]["valueof"]["parameter_type"] == 3  # blob
    assert (js["id"], 6, "obj-savedmodel", 0) in cords(patcher)
    assert ("obj-thisdevice", 0, "obj-init", 0) in cords(patcher)
    assert boxes["obj-init"]["text"] == "init"


def test_audio_passes_through(patcher: dict) -> None:
    (plugin,) = boxes_by_text(patcher, "plugin~")
    (plugout,) = boxes_by_text(patcher, "plugout~")
    assert {(plugin["id"], 0, plugout["id"], 0), (plugin["id"], 1, plugout["id"], 1)} <= cords(patcher)


def test_every_cord_joins_existing_boxes_within_their_inlets_and_outlets(patcher: dict) -> None:
    assert m4l.patcher_problems(patcher) == []
    assert len(patcher["patcher"]["lines"]) > 20


def test_the_cord_check_catches_broken_cords(patcher: dict) -> None:
    broken = copy.deepcopy(patcher)
    lines = broken["patcher"]["lines"]
    lines.append({"patchline": {"source": ["obj-js", 8], "destination": ["obj-udpsend", 0]}})
    lines.append({"patchline": {"source": ["obj-gone", 0], "destination": ["obj-js", 0]}})
    lines.append({"patchline": {"source": ["obj-init", 0], "destination": ["obj-udpsend", 1]}})
    problems = m4l.patcher_problems(broken)
    assert len(problems) == 3
    assert "outlet 8" in problems[0]
    assert "does not exist" in problems[1]
    assert "inlet 1" in problems[2]


def test_every_script_outlet_and_display_is_wired(patcher: dict) -> None:
    wired = {outlet for src, outlet, _, _ in cords(patcher) if src == "obj-js"}
    assert wired == set(range(8))
    assert ("obj-js", 7, "obj-udpreceive", 0) in cords(patcher)  # the derived reply port
    ui = [b["box"] for b in patcher["patcher"]["boxes"] if b["box"].get("presentation")]
    assert {
        "obj-connection",
        "obj-result",
        "obj-reasons",
        "obj-status",
        "obj-scoretrack",
        "obj-models",
        "obj-sensitivity",
        "obj-outport",
        "obj-inport",
    } <= {b["id"] for b in ui}
    for box in ui:
        x, y, w, h = box["presentation_rect"]
        assert 0 <= x, box["id"]
        assert x + w <= patcher["patcher"]["devicewidth"], box["id"]
        assert 0 <= y, box["id"]
        assert y + h <= 169, box["id"]


def test_build_does_not_replace_a_device_edited_in_max(tmp_path: Path) -> None:
    m4l.build(tmp_path)
    edited = tmp_path / "loopbridge.amxd"
    edited.write_bytes(edited.read_bytes() + b"edited")
    with pytest.raises(LoopbridgeError, match="--force") as err:
        m4l.build(tmp_path)
    assert err.value.code == "exists"
    assert edited.read_bytes().endswith(b"edited")
    m4l.build(tmp_path, force=True)
    assert m4l.read_chunks(edited.read_bytes())[2][1].startswith(b"mx@c")


def test_read_chunks_rejects_a_truncated_device(built: Path) -> None:
    data = (built / "loopbridge.amxd").read_bytes()
    with pytest.raises(ValueError, match="past the end"):
        m4l.read_chunks(data[:-10])


def downstream_texts(patcher: dict, start: str) -> set[str]:
    """Texts of every box reachable from `start` along cords."""
    boxes = {b["box"]["id"]: b["box"] for b in patcher["patcher"]["boxes"]}
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for src, _, dst, _ in cords(patcher):
            if src == node and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return {boxes[b].get("text", "") for b in seen}


def test_presentation_view_renders_from_the_patcher(tmp_path: Path) -> None:
    out = tmp_path / "view.png"
    done = subprocess.run(
        [sys.executable, str(ROOT / "max_for_live" / "tools" / "render_view.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    header = out.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width = int(
        json.loads((ROOT / "max_for_live" / "loopbridge.maxpat").read_text(encoding="utf-8"))["patcher"]["devicewidth"]
    )
    assert int.from_bytes(header[16:20], "big") == 2 * width  # device width at 2x


CONTROLS = ("live.text", "live.numbox", "live.toggle", "umenu")


def test_the_view_is_narrow_whole_pixel_and_every_control_explains_itself_in_the_info_view(patcher: dict) -> None:
    """Ableton's device guidelines (maxdevtools m4l-production-guidelines): Info View text for each control,
    a device as narrow as it can be, presentation rectangles in whole pixels."""
    assert patcher["patcher"]["devicewidth"] <= 400
    ui = [b["box"] for b in patcher["patcher"]["boxes"] if b["box"].get("presentation")]
    controls = [b for b in ui if b["maxclass"] in CONTROLS]
    assert len(controls) == 9
    for box in controls + [b for b in ui if b["id"] in ("obj-connection", "obj-result", "obj-reasons", "obj-status")]:
        assert box.get("annotation_name"), box["id"]
        assert len(box.get("annotation", "")) > 20, box["id"]
    for box in ui:
        assert all(float(v).is_integer() for v in box["presentation_rect"]), box["id"]


def test_colours_follow_the_live_theme(patcher: dict) -> None:
    """Fixed colours would be unreadable in some Live themes: the view's own colours are Live's dynamic ones."""
    saved = patcher["patcher"]["saved_attribute_attributes"]
    assert saved["locked_bgcolor"]["expression"] == "themecolor.live_surface_bg"
    for b in patcher["patcher"]["boxes"]:
        box = b["box"]
        if not box.get("presentation"):
            continue
        themed = box.get("saved_attribute_attributes", {})
        for attr in ("textcolor", "bgcolor", "bgfillcolor"):
            if attr in box:
                assert themed.get(attr, {}).get("expression", "").startswith("themecolor.live_"), (box["id"], attr)
        if box["maxclass"] in ("comment", "umenu"):
            assert themed["textcolor"]["expression"].startswith("themecolor.live_"), box["id"]
