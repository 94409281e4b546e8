"""The device script's own tests run under Node (`node --test`), so `bash scripts/test` covers them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEVICE = Path(__file__).resolve().parents[1] / "max_for_live"


def test_device_script_node_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the device's JavaScript tests need Node 18+")
    if not (DEVICE / "node_modules" / "acorn").exists():
        pytest.fail("run `npm ci` in max_for_live/ first (scripts/test does)")
    done = subprocess.run([node, "--test", "test/"], cwd=DEVICE, capture_output=True, text=True, timeout=120)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    passed = int(re.search(r"^# pass (\d+)", report, re.M).group(1))
    failed = int(re.search(r"^# fail (\d+)", report, re.M).group(1))
    assert failed == 0, report[-2000:]
    assert passed >= 20, report[-2000:]
