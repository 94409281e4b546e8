"""The runtime (`loopbridge`, minus `loopbridge.export`) must import without the torch side."""

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import loopbridge
from loopbridge.cli import build_parser
build_parser()  # imports every subcommand module
for m in pkgutil.walk_packages(loopbridge.__path__, "loopbridge."):
    if not m.name.startswith("loopbridge.export") and not m.name.endswith("__main__"):
        importlib.import_module(m.name)
heavy = sorted(n for n in ("torch", "laion_clap", "torchaudio", "torchvision", "sklearn", "matplotlib") if n in sys.modules)
print(",".join(heavy))
"""


def test_runtime_modules_import_no_training_stack() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "", f"runtime imported: {done.stdout.strip()}"
