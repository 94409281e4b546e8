"""The built device is frozen: it carries loopbridge.js, so a set that uses it survives being moved or shared."""

from __future__ import annotations

import json
from pathlib import Path

from helpers_m4l import read_frozen_amxd

from loopbridge import m4l

ROOT = Path(__file__).resolve().parents[1]


def test_the_built_device_embeds_the_repo_script_and_patcher(tmp_path: Path) -> None:
    m4l.build(tmp_path)
    files = read_frozen_amxd((tmp_path / "loopbridge.amxd").read_bytes())
    assert list(files) == ["loopbridge.amxd", "loopbridge.js"]
    kind, script = files["loopbridge.js"]
    assert kind == "TEXT"
    assert script == (ROOT / "max_for_live" / "loopbridge.js").read_bytes()
    kind, patcher_json = files["loopbridge.amxd"]
    assert kind == "JSON"
    patcher = json.loads(patcher_json.rstrip(b"\0").decode("utf-8"))
    assert patcher["patcher"]["dependency_cache"][0]["name"] == "loopbridge.js"
    assert patcher == json.loads((ROOT / "max_for_live" / "loopbridge.maxpat").read_text(encoding="utf-8"))


def test_a_changed_script_changes_the_device(tmp_path: Path) -> None:
    patcher = m4l.load_patcher()
    one = read_frozen_amxd(m4l.amxd_bytes(patcher, b"post('a');\n"))
    two = read_frozen_amxd(m4l.amxd_bytes(patcher, b"post('bb');\n"))
    assert one["loopbridge.js"][1] == b"post('a');\n"
    assert two["loopbridge.js"][1] == b"post('bb');\n"
    assert one["loopbridge.amxd"] == two["loopbridge.amxd"]
