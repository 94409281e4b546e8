"""The browse page's files ship with the package, load nothing from the network, and match their npm pin."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


ROOT = Path(__file__).resolve().parents[1]
BROWSE = ROOT / "bridge" / "browse"


def test_every_page_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in patterns["loopbridge.browse"] for p in BROWSE.glob(pattern) if p.is_file()}
    present = {p for p in (BROWSE / "static").rglob("*") if p.is_file()}
    assert present, "bridge/browse/static is empty"
    assert present <= shipped, sorted(str(p.relative_to(BROWSE)) for p in present - shipped)


def test_page_loads_only_its_own_files():
    html = (BROWSE / "static" / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/plotly-gl2d.min.js" in refs
    assert all(r.startswith("/static/") or r.startswith("data:") for r in refs), refs
    for script in ("app.js", "index.html"):
        assert not re.search(r"https?://", (BROWSE / "static" / script).read_text()), script


def test_vendored_plotly_is_the_locked_npm_build():
    package = json.loads((BROWSE / "package.json").read_text())
    lock = json.loads((BROWSE / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/plotly.js-gl2d-dist-min"]["version"]
    assert package["dependencies"]["plotly.js-gl2d-dist-min"] == version
    head = (BROWSE / "static" / "vendor" / "plotly-gl2d.min.js").read_text()[:200]
    assert f"plotly.js (gl2d - minified) v{version}" in head


def test_browse_without_the_extra_names_the_pip_command(tmp_path):
    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "from loopbridge.cli import main\n"
        f"sys.exit(main(['browse', '--model', 'x', {str(tmp_path)!r}, '--no-open']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert 'pip install "loopbridge[browse]"' in done.stderr
    assert "Traceback" not in done.stderr
