"""Fixtures shared by every test area. Area-specific helpers live in tests/helpers_<area>.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture
def lb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private LOOPBRIDGE_HOME so no test touches the user's cache or models."""
    home = tmp_path / "lbhome"
    monkeypatch.setenv("LOOPBRIDGE_HOME", str(home))
    return home


def write_audio(path: Path, y: np.ndarray, sr: int = 48_000, subtype: str | None = None) -> Path:
    """Write a real file with soundfile; format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype=subtype)
    return path


def tone(seconds: float, sr: int = 48_000, freq: float = 110.0, amp: float = 0.5, seed: int = 0) -> np.ndarray:
    """A plucked-ish tone with a little noise: real-looking audio without the synth module."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    env = np.exp(-3.0 * (t % 0.5))
    y = amp * env * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    return y.astype(np.float32)


# A fixture defined beside its helpers (which import this module's functions, hence last), shared by every test.
from helpers_server import model_files  # noqa: E402, F401
