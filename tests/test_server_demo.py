"""`loopbridge demo` on a fresh home: no weights, no audio of the user's; a clipped take is flagged, a clean one not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time


def test_demo_flags_the_defective_take_and_not_the_clean_one(tmp_path):
    env = {**os.environ, "LOOPBRIDGE_HOME": str(tmp_path / "fresh")}
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "loopbridge", "demo"], env=env, capture_output=True, text=True, timeout=300
    )
    wall = time.monotonic() - t0
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "encoder: mel-stats" in out
    assert "not installed" in out
    clean = re.search(r"← /loopbridge/result 1 .*clean\).wav' demo \S+ \S+ (\d) ", out)
    defective = re.search(r"← /loopbridge/result 2 .*clipping\).wav' demo \S+ \S+ (\d) ", out)
    assert clean, out
    assert clean.group(1) == "0", out
    assert defective, out
    assert defective.group(1) == "1", out
    reasons = re.findall(r"← /loopbridge/reason 2 (\w+) ", out)
    assert "clipping" in reasons
    assert out.index("/loopbridge/reason 2") < out.index("/loopbridge/result 2")
    assert not list((tmp_path / "fresh").glob("data/models/*")), "the demo must not leave a model behind"
    told = float(re.search(r"done in ([\d.]+) s", out).group(1))
    # only Python's own start and the command line's imports are left out of the demo's own timer
    assert told > 0.8 * wall - 1.0, f"the demo says {told} s; it took {wall:.1f} s from outside"
