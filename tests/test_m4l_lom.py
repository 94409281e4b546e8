"""The stand-in Live's object table is generated from the LOM reference's page layout by max_for_live/tools/lom_table.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("lom_table", ROOT / "max_for_live" / "tools" / "lom_table.py")
assert spec is not None
assert spec.loader is not None
lom_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lom_table)

# A class page in the reference's layout (member lines under headings, prose between), written for the test.
PAGE = """<html><body><h1>Track</h1><p>A track.</p><h2>Children</h2>
<p>take_lanes list of TakeLane read-only<span>observe</span></p><p>The lanes.</p>
<p>arrangement_clips list of Clip read-onlyobserve</p><p>Available since Live 11.0.</p>
<h2>Properties</h2><p>arm bool observe</p><p>1 = armed &amp; ready.</p><p>name symbol observe</p>
<h2>Functions</h2><p>stop_all_clips</p></body></html>"""


def test_member_lines_give_kind_type_access_and_version() -> None:
    members = lom_table.parse_page(lom_table.page_text(PAGE))
    assert set(members) == {"take_lanes", "arrangement_clips", "arm", "name"}
    assert members["arrangement_clips"] == {
        "kind": "children",
        "type": "list of Clip",
        "read_only": True,
        "observe": True,
        "from": "reference",
        "since": 11.0,
    }
    assert members["take_lanes"]["observe"] is True  # the badge in its own inline tag
    assert members["arm"]["kind"] == "property"
    assert members["arm"]["read_only"] is False
    assert members["arm"]["observe"] is True


def test_the_table_takes_the_pages_over_the_supplement_and_marks_live_12_members(tmp_path: Path) -> None:
    (tmp_path / "track.html").write_text(PAGE, encoding="utf-8")
    assert lom_table.main(["--pages", str(tmp_path), "--out", str(tmp_path / "lom.json")]) == 0
    table = json.loads((tmp_path / "lom.json").read_text(encoding="utf-8"))
    track = table["classes"]["Track"]
    assert track["page"] == "https://docs.cycling74.com/apiref/lom/track"
    assert track["members"]["take_lanes"]["since"] == 12.0
    assert track["members"]["name"]["from"] == "reference"
    assert table["classes"]["Clip"]["members"]["is_recording"]["from"] == "supplement"


def test_the_committed_table_has_every_class_the_stand_in_models() -> None:
    table = json.loads((ROOT / "max_for_live" / "harness" / "lom.json").read_text(encoding="utf-8"))
    assert set(table["classes"]) == set(lom_table.CLASSES)
    assert table["classes"]["Clip"]["members"]["file_path"] == {
        "kind": "property",
        "type": "symbol",
        "read_only": True,
        "observe": False,
        "from": "reference",
    }
