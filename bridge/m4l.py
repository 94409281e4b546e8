"""Builds the Max for Live device from text: the patcher JSON and the script kept in the repo.

An `.amxd` is a sequence of chunks — a 4-byte tag, a little-endian uint32 length, the payload:
`ampf` (the device type, `aaaa` = audio effect), `meta` (4 bytes) and `ptch`. Unfrozen, `ptch` is
the patcher JSON (NUL-terminated) and the script must be found in Max's search path, so a set moved
or shared without it leaves the device silent. The build therefore writes a *frozen* device: `ptch`
holds an `mx@c` container with the patcher and `loopbridge.js` embedded.

The container, as Ableton's MIT-licensed maxdevtools (`maxdiff/frozen_device_printer.py`,
`amxd_textconv.py`) parses it — reconstructed from memory of that code, not from a Max-written
file (see README, device section): `mx@c`, then big-endian uint32s header size (16), 0 and the
offset of the directory; the files back to back from byte 16; the directory `dlst` (tag, BE
uint32 size including these 8 bytes) of `dire` entries, each a run of fields (tag, BE uint32 size
including the 8 bytes, data): `type` (`JSON`/`TEXT`), `fnam` (NUL-padded to 4 bytes), `sz32`,
`of32` (from the `mx@c` tag), `vers`, `flag` (0x11 marks the device's own patcher), `mdat`.

    python -m loopbridge.m4l build [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LoopbridgeError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DEVICE_TYPE = b"aaaa"  # audio effect
META = struct.pack("<I", 1)  # as Max 9 writes it for unfrozen devices
PATCHER_FILE = "loopbridge.maxpat"
SCRIPT_FILE = "loopbridge.js"
DEVICE_FILE = "loopbridge.amxd"
DEFAULT_OUT = Path("loopbridge-device")


def sources() -> Traversable:
    """The shipped device sources (the repo's max_for_live/ folder in an editable install)."""
    return resources.files("loopbridge.max_for_live")


def load_patcher() -> dict:
    return json.loads(sources().joinpath(PATCHER_FILE).read_text(encoding="utf-8"))


def patcher_problems(patcher: dict) -> list[str]:
    """What would make Max drop a cord or miss the script: cords to missing boxes or outlets, no js box."""
    problems = []
    boxes = {b["box"]["id"]: b["box"] for b in patcher["patcher"]["boxes"]}
    for line in patcher["patcher"]["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        if src not in boxes or dst not in boxes:
            problems.append(f"cord {src}:{outlet} -> {dst}:{inlet} joins a box that does not exist")
            continue
        if not 0 <= outlet < boxes[src]["numoutlets"]:
            problems.append(f"cord from {src} uses outlet {outlet}; it has {boxes[src]['numoutlets']}")
        if not 0 <= inlet < boxes[dst]["numinlets"]:
            problems.append(f"cord to {dst} uses inlet {inlet}; it has {boxes[dst]['numinlets']}")
    scripts = [b for b in boxes.values() if b.get("text", "").split()[:2] == ["js", SCRIPT_FILE]]
    if len(scripts) != 1:
        problems.append(f"expected one [js {SCRIPT_FILE}] box, found {len(scripts)}")
    amxdtype = patcher["patcher"].get("project", {}).get("amxdtype")
    if amxdtype != int.from_bytes(DEVICE_TYPE, "big"):
        problems.append(f"project.amxdtype is {amxdtype}, not {int.from_bytes(DEVICE_TYPE, 'big')} ({DEVICE_TYPE!r})")
    return problems


MAIN_FLAG = 0x11  # the device's own patcher among the frozen files
MX_HEADER = 16


def _field(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack(">I", 8 + len(data)) + data


def frozen_container(files: list[tuple[str, bytes, bytes]]) -> bytes:
    """An mx@c container of (name, type, data) files, the first being the device's patcher."""
    body, entries, offset = [], [], MX_HEADER
    for i, (name, kind, data) in enumerate(files):
        raw = name.encode("utf-8")
        fnam = raw + b"\0" * (4 - len(raw) % 4)
        fields = [
            (b"type", kind),
            (b"fnam", fnam),
            (b"sz32", struct.pack(">I", len(data))),
            (b"of32", struct.pack(">I", offset)),
            (b"vers", struct.pack(">I", 0)),
            (b"flag", struct.pack(">I", MAIN_FLAG if i == 0 else 0)),
            (b"mdat", struct.pack(">I", 0)),  # 0 keeps builds byte-identical
        ]
        entries.append(_field(b"dire", b"".join(_field(t, d) for t, d in fields)))
        body.append(data)
        offset += len(data)
    dlst = _field(b"dlst", b"".join(entries))
    return b"mx@c" + struct.pack(">III", MX_HEADER, 0, offset) + b"".join(body) + dlst


def amxd_bytes(patcher: dict, script: bytes) -> bytes:
    """The frozen device file: ampf, meta and a ptch chunk embedding the patcher and its script."""
    patcher_json = json.dumps(patcher, indent="\t", ensure_ascii=False).encode("utf-8") + b"\0"
    ptch = frozen_container([(DEVICE_FILE, b"JSON", patcher_json), (SCRIPT_FILE, b"TEXT", script)])
    return b"".join(
        tag + struct.pack("<I", len(data)) + data
        for tag, data in ((b"ampf", DEVICE_TYPE), (b"meta", META), (b"ptch", ptch))
    )


def read_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split an unfrozen .amxd into (tag, payload) chunks; raises ValueError on a truncated file."""
    chunks, at = [], 0
    while at < len(data):
        if at + 8 > len(data):
            raise ValueError(f"truncated chunk header at byte {at}")
        tag, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if at + 8 + size > len(data):
            raise ValueError(f"chunk {tag!r} at byte {at} runs past the end of the file")
        chunks.append((tag, data[at + 8 : at + 8 + size]))
        at += 8 + size
    return chunks


def build(out_dir: Path, force: bool = False) -> list[Path]:
    """Write the frozen loopbridge.amxd, and loopbridge.js to edit, into out_dir; never replaces a different file unless forced."""
    patcher = load_patcher()
    problems = patcher_problems(patcher)
    if problems:
        raise LoopbridgeError("the device patcher is broken:\n  " + "\n  ".join(problems), code="device")
    script = sources().joinpath(SCRIPT_FILE).read_bytes()
    outputs = {out_dir / DEVICE_FILE: amxd_bytes(patcher, script), out_dir / SCRIPT_FILE: script}
    clashes = [p for p, data in outputs.items() if p.exists() and p.read_bytes() != data]
    if clashes and not force:
        raise LoopbridgeError(
            f"{', '.join(map(str, clashes))} already exist and differ (edited in Max?); "
            "pass --force to replace them, or build into another --out folder",
            code="exists",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, data in outputs.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return list(outputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loopbridge.m4l", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write loopbridge.amxd and loopbridge.js into a folder")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder to write to (default: ./{DEFAULT_OUT})")
    b.add_argument("--force", action="store_true", help="replace device files that differ from this build")
    args = parser.parse_args(argv)
    try:
        written = build(args.out, force=args.force)
    except LoopbridgeError as exc:
        print(f"loopbridge.m4l: error: {exc.message}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    print(f"Drag {DEVICE_FILE} onto an audio track; it carries its script, so sets with it travel.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
