"""Draw the device's presentation view from loopbridge.maxpat, for the README (no Max needed).

    python max_for_live/tools/render_view.py [--out docs/m4l-device.png]

Every box in presentation mode is drawn at its presentation_rect; the display comments show an
example of what the script writes there after a flagged take.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, Rectangle

HERE = Path(__file__).resolve().parents[1]
DEVICE_HEIGHT = 169  # Live's device height in pixels

# What the script shows after a clipped take (the formats of loopbridge.js; values illustrative).
EXAMPLE_TEXT = {
    "obj-connection": "connected \u00b7 loopbridge 0.1.0 \u00b7 CPUExecutionProvider \u00b7 replies on 9137",
    "obj-result": "Bass 4: score 3.2 / threshold 1.5 \u2014 FLAGGED \u00b7 loops \u00b7 41 ms (server 12 ms)\n"
    "take 4 of 4: departs at 2.31 s (timing)",
    "obj-reasons": "clipping at 2.31 s (90%): clipped 34 samples around 2.31 s (flat tops at the peak level)\n"
    "dropout at 1.20 s (40%): a gap of 50 ms at 1.20 s while the instrument is playing",
    "obj-status": "track: 12 / 40 scored, 2 flagged",
}
EXAMPLE_VALUE = {"obj-sensitivity": "0.95", "obj-outport": "9000", "obj-inport": "0", "obj-models": "loops \u25be"}

BG, PANEL, TEXT, DIM, ACCENT, WARN = "#1e1e1e", "#3a3a3a", "#e6e6e6", "#a0a0a0", "#ffb532", "#ff5a4e"
CHAR_W, LINE_H = 4.4, 12.0  # Max's 10 pt Arial Bold, roughly, in patcher pixels


def fit_box(text: str, w: float, h: float) -> str:
    """Wrap text to the comment's width and cut it at its height, as Max draws a comment."""
    lines = [part for line in text.split("\n") for part in textwrap.wrap(line, int(w / CHAR_W)) or [""]]
    return "\n".join(lines[: max(1, int(h / LINE_H))])


def render(maxpat: Path, out: Path, scale: float = 2.0) -> Path:
    patcher = json.loads(maxpat.read_text(encoding="utf-8"))["patcher"]
    width = patcher["devicewidth"]
    fig = plt.figure(figsize=(width * scale / 100, (DEVICE_HEIGHT + 18) * scale / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(DEVICE_HEIGHT, -18)  # Max's y axis points down; 18 px title bar above the device
    ax.axis("off")
    fig.patch.set_facecolor(BG)
    ax.add_patch(Rectangle((0, -18), width, 18, color="#545454"))
    ax.text(6, -9, "loopbridge", color=TEXT, va="center", fontsize=7 * scale, fontweight="bold")
    font = 5.2 * scale
    for entry in patcher["boxes"]:
        box = entry["box"]
        if not box.get("presentation"):
            continue
        x, y, w, h = box["presentation_rect"]
        kind, bid = box["maxclass"], box["id"]
        if kind == "comment":
            text = EXAMPLE_TEXT.get(bid, box.get("text", ""))
            colour = WARN if "FLAGGED" in text else (DIM if bid in ("obj-reasons", "obj-connection") else TEXT)
            if bid == "obj-title":
                continue  # the title bar names the device
            ax.text(
                x + 2,
                y + 2,
                fit_box(text, w, h),
                color=colour,
                va="top",
                fontsize=font,
                linespacing=1.3,
                fontweight="bold" if bid == "obj-result" else "normal",
            )
        elif kind == "live.text":
            ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=3", color=ACCENT))
            ax.text(x + w / 2, y + h / 2, box.get("text", ""), color="#111", ha="center", va="center", fontsize=font)
        elif kind in ("live.numbox", "umenu"):
            ax.add_patch(Rectangle((x, y), w, h, color=PANEL))
            ax.text(x + 3, y + h / 2, EXAMPLE_VALUE.get(bid, ""), color=TEXT, va="center", fontsize=font)
        elif kind == "live.toggle":
            ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=DIM))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, facecolor=BG)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "m4l-device.png")
    args = parser.parse_args()
    print(render(HERE / "loopbridge.maxpat", args.out))


if __name__ == "__main__":
    main()
