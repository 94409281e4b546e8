"""Writes max_for_live/harness/lom.json, the stand-in Live's object table, from Cycling '74's LOM reference.

Source: the Live Object Model reference, https://docs.cycling74.com/apiref/lom/ (it documents Live
12.2b14), one page per class (`.../lom/clip`, `.../lom/track`, ...). Each member there is a line
`<name> <type> [read-only][observe]` under a "Children" or "Properties" heading, sometimes followed by
"Available since Live N.M." The parser reads that layout from page text (or HTML, tags stripped):

    python max_for_live/tools/lom_table.py --fetch            # needs the internet
    python max_for_live/tools/lom_table.py --pages DIR        # DIR/<class>.txt|.html saved pages

Members the stand-in needs that the pages read did not show go in from SUPPLEMENT below, marked
`"from": "supplement"` in the table, so a run against the full pages (which replaces them) shows which
were right. Live 12's additions carry `since` from SINCE (the reference names no version for them).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import urllib.request
from pathlib import Path

BASE_URL = "https://docs.cycling74.com/apiref/lom/"
# The classes the device touches, by their page names.
CLASSES = {
    "Song": "song",
    "Track": "track",
    "TakeLane": "takelane",
    "ClipSlot": "clipslot",
    "Clip": "clip",
    "Device": "device",
}
OUT = Path(__file__).resolve().parents[1] / "harness" / "lom.json"
MEMBER = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*) (?P<type>.+?)(?P<ro> read-only)?(?P<obs> ?observe)?\s*$")
SINCE_LINE = re.compile(r"Available since Live (\d+)(?:\.(\d+))?")

# Live 12 additions the reference lists without a version (Live 12 release notes: take lanes, the
# song's key and scale).
SINCE = {
    ("Track", "take_lanes"): 12.0,
    ("Song", "root_note"): 12.0,
    ("Song", "scale_name"): 12.0,
    ("Song", "scale_intervals"): 12.0,
}

# (kind, type, read_only, observe, since) for members the pages read did not reach (the pages' excerpts
# stop early); from the reference's Live 12.2 tables as summarised in the project's notes
# (/work/shared/notes/osc-and-live.md, round2.md). Replaced by the pages' own lines when they show them.
SUPPLEMENT: dict[str, dict[str, tuple[str, str, bool, bool, float | None]]] = {
    "Song": {
        "tempo": ("property", "float", False, True, None),
        "signature_numerator": ("property", "int", False, True, None),
        "signature_denominator": ("property", "int", False, True, None),
        "record_mode": ("property", "bool", False, True, None),
        "session_record": ("property", "bool", False, True, None),
        "is_playing": ("property", "bool", False, True, None),
        "root_note": ("property", "int", False, True, 12.0),
        "scale_name": ("property", "unicode", False, True, 12.0),
        "tracks": ("children", "list of Track", True, True, None),
    },
    "Track": {"name": ("property", "symbol", False, True, None)},
    "Clip": {
        "name": ("property", "symbol", False, True, None),
        "is_audio_clip": ("property", "bool", True, False, None),
        "is_recording": ("property", "bool", True, True, None),
        "looping": ("property", "bool", False, True, None),
        "loop_start": ("property", "float", False, True, None),
        "loop_end": ("property", "float", False, True, None),
        "start_marker": ("property", "float", False, True, None),
        "warping": ("property", "bool", False, True, None),
        "warp_markers": ("property", "dict", True, True, 11.0),
    },
    "Device": {
        "name": ("property", "symbol", True, True, None),
        "canonical_parent": ("children", "Track", True, False, None),
    },
}


def page_text(raw: str) -> str:
    """Plain text from a saved page: HTML tags become line breaks, entities are decoded."""
    if "<" in raw and ">" in raw:
        raw = re.sub(r"<(script|style)\b.*?</\1>", "", raw, flags=re.S | re.I)
        raw = re.sub(r"</?(?:span|code|em|strong|b|i|a)\b[^>]*>", "", raw, flags=re.I)  # inline: same line
        raw = re.sub(r"<[^>]+>", "\n", raw)
    return html.unescape(raw)


def parse_page(text: str) -> dict[str, dict]:
    """The members of one class page: name -> {kind, type, read_only, observe[, since]}."""
    members: dict[str, dict] = {}
    section = None
    last = None
    for line in (ln.strip() for ln in text.splitlines()):
        if line in ("Children", "Child", "Properties"):
            section = "children" if line != "Properties" else "property"
            continue
        if line == "Functions":
            section = None
            continue
        since = SINCE_LINE.search(line)
        if since and last is not None:
            members[last]["since"] = float(f"{since.group(1)}.{since.group(2) or 0}")
            continue
        m = MEMBER.match(line) if section else None
        if m and " " not in m.group("type").replace("list of ", "").strip():
            last = m.group("name")
            members[last] = {
                "kind": section,
                "type": m.group("type").strip(),
                "read_only": bool(m.group("ro")),
                "observe": bool(m.group("obs")),
                "from": "reference",
            }
    return members


def table(pages: dict[str, str]) -> dict:
    classes: dict[str, dict] = {}
    for cls, page in CLASSES.items():
        members = parse_page(page_text(pages[page])) if page in pages else {}
        for name, (kind, typ, ro, obs, since) in SUPPLEMENT.get(cls, {}).items():
            if name not in members:
                members[name] = {"kind": kind, "type": typ, "read_only": ro, "observe": obs, "from": "supplement"}
                if since:
                    members[name]["since"] = since
        for (c, name), since in SINCE.items():
            if c == cls and name in members:
                members[name]["since"] = since
        classes[cls] = {"page": BASE_URL + page, "members": dict(sorted(members.items()))}
    return {
        "about": "Generated by max_for_live/tools/lom_table.py from the LOM reference (Live 12.2b14); "
        "the stand-in Live (harness/max_env.js) allows only these members and refuses what Live refuses: "
        "set on read-only members, observing what is not observable, members newer than the Live it plays.",
        "source": BASE_URL,
        "classes": classes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fetch", action="store_true", help=f"read the pages from {BASE_URL}")
    where.add_argument("--pages", type=Path, help="a folder of saved pages named <class>.txt or <class>.html")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    pages: dict[str, str] = {}
    for page in CLASSES.values():
        if args.fetch:
            with urllib.request.urlopen(BASE_URL + page, timeout=30) as response:
                pages[page] = response.read().decode("utf-8", "replace")
        else:
            for suffix in (".txt", ".html"):
                if (args.pages / (page + suffix)).is_file():
                    pages[page] = (args.pages / (page + suffix)).read_text(encoding="utf-8")
    if not pages:
        print("lom_table: no pages read", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(table(pages), indent=1) + "\n", encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
