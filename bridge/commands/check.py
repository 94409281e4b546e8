"""`loopbridge check`: technical reasons a take is off (clipping, clicks, dropouts, …), per file, no model needed."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from ..cli_context import add_context_options, context_from_args
from ..errors import LoopbridgeError
from ..limits import MAX_SECONDS

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="technical checks: clipping, clicks, dropouts, DC, polarity, truncation, noise, level",
        description="Run the technical checks on each file at its own rate and channels. Exit status: "
        "0 nothing found, 1 something found, 2 nothing could be checked.",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files or folders (searched recursively)")
    p.add_argument("--model", help="judge against this model's calibrated library instead of the built-in limits")
    p.add_argument(
        "--bpm",
        type=float,
        help="the loops' tempo: a loop that is not a whole number of beats is reported "
        "(by default read from names like bass_124bpm.wav)",
    )
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="refuse files longer than this")
    add_context_options(p, bpm=False)
    p.add_argument(
        "--musical",
        action="store_true",
        help="run the musical checks (timing, wrong notes, buzz) even when no tempo, key or sibling is known: "
        "estimate them (they run by themselves when --bpm/--key are given or the name says, e.g. bass_120bpm_Em.wav)",
    )
    p.add_argument("--json", action="store_true", help="JSON list on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import checks
    from ..audio import expand_paths, read_region

    context = context_from_args(args)
    calibration = _calibration(args.model)
    if calibration is None:
        log.info("note: %s", checks.DEFAULTS_NOTICE)
    files = expand_paths(args.inputs)
    if not files:
        raise LoopbridgeError("no audio files found in " + ", ".join(args.inputs), "no_files")
    rows: list[dict[str, Any]] = []
    for f in files:
        try:
            native, region = read_region(f, args.max_seconds, context.region if context else None)
        except LoopbridgeError as exc:
            log.warning("skipped %s", exc.message)
            rows.append({"file": str(f), "error": exc.message, "code": exc.code})
            continue
        checked_take = checks.check_take(native, calibration, args.bpm, context=context, estimate=args.musical)
        findings = checked_take.findings
        rows.append(
            {
                "file": str(f),
                "duration_s": round(native.duration_s, 3),
                "sample_rate": native.sample_rate,
                "channels": native.channels,
                "subtype": native.subtype,
                "region": list(region) if region else None,
                "context": checked_take.music,
                "findings": [f.__dict__ for f in findings],
            }
        )
    checked = [r for r in rows if "error" not in r]
    if not checked:
        raise LoopbridgeError(f"none of the {len(rows)} file(s) could be read", "no_files")
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        print(report(checked))
        n_bad = sum(bool(r["findings"]) for r in checked)
        skipped = len(rows) - len(checked)
        print(f"\n{n_bad} of {len(checked)} file(s) with findings" + (f"; {skipped} skipped" if skipped else ""))
    return 1 if any(r["findings"] for r in checked) else 0


def _calibration(model: str | None) -> dict | None:
    if model is None:
        return None
    from ..bundle import Bundle

    bundle = Bundle.load(model)
    if not bundle.checks:
        log.info(
            "note: model '%s' holds no check calibration (fitted before checks existed); built-in limits apply",
            bundle.name,
        )
    return bundle.checks or None


def report(rows: list[dict[str, Any]]) -> str:
    """One block per file: a header, then one line per finding, worst first."""
    lines = []
    for r in rows:
        layout = {1: "mono", 2: "stereo"}.get(r["channels"], f"{r['channels']} ch")
        head = f"{r['file']}  ({r['duration_s']:.2f} s, {r['sample_rate'] / 1000:g} kHz {layout}, {r['subtype']})"
        if r.get("region"):
            head += f" region {r['region'][0]:.2f}-{r['region'][1]:.2f} s (times from its start)"
        if r.get("context"):
            c = r["context"]
            head += f"\n  judged at {c['bpm'] or '?'} BPM ({c['bpm_from']}), {c['key'] or 'key unknown'} ({c['key_from']}), {c['meter']}"
        if not r["findings"]:
            lines.append(f"{head}: OK")
            continue
        lines.append(head)
        for f in r["findings"]:
            lines.append(f"  {f['kind']:<11} {f['severity']:.2f}  at {f['start_s']:6.2f} s  {f['message']}")
    return "\n".join(lines)


__all__ = ["register", "report", "run"]
