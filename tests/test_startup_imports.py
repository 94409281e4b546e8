"""One-file commands start fast: `check` and `score` on a real file import none of the heavy libraries they
used to load for a small part (librosa for the mel filterbank, scipy.signal and pyloudnorm for the K-weighting),
and what replaced those parts gives the same numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import librosa
import numpy as np
import pyloudnorm
import pytest
from conftest import tone, write_audio
from scipy.signal import sosfreqz, tf2sos

from loopbridge.checks import level
from loopbridge.features import FMAX, FMIN, N_FFT, N_MELS, SAMPLE_RATE, mel_filterbank

HEAVY = ("librosa", "scipy.signal", "pyloudnorm", "numba", "sklearn", "torch")

PROBE = """
import json, sys
from loopbridge.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY=" + json.dumps(heavy), file=sys.stderr)
"""


def test_mel_filterbank_is_librosas_to_the_bit() -> None:
    expected = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, htk=True, norm=None
    )
    np.testing.assert_array_equal(mel_filterbank(), expected.T.astype(np.float32))


@pytest.mark.parametrize("sr", [22050, 44100, 48000, 96000])
def test_k_weighting_power_response_is_pyloudnorms_filters(sr: int) -> None:
    n = sr // 10
    sos = np.concatenate([tf2sos(f.b, f.a) for f in pyloudnorm.Meter(sr)._filters.values()])
    _, h = sosfreqz(sos, worN=np.fft.rfftfreq(n, 1.0 / sr), fs=sr)
    expected = np.abs(h) ** 2 * (2.0 / n)
    expected[0] /= 2
    if n % 2 == 0:
        expected[-1] /= 2
    np.testing.assert_allclose(level._k_power(sr, n), expected.astype(np.float32), rtol=1e-6)


def _heavy_imports(args: list[str], env_home: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "LOOPBRIDGE_HOME": env_home},
    )
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("HEAVY=")]
    assert line, done.stderr[-3000:]
    return json.loads(line[0][len("HEAVY=") :])


def test_check_and_score_of_one_file_import_no_heavy_library(tmp_path, monkeypatch) -> None:
    from helpers_server import fit_model, write_library

    home = str(tmp_path / "home")
    monkeypatch.setenv("LOOPBRIDGE_HOME", home)
    bundle = fit_model(write_library(tmp_path / "lib", n=8), tmp_path / "model")
    take = write_audio(tmp_path / "take.wav", tone(2.0, freq=220.0, amp=0.3, seed=5))
    assert _heavy_imports(["check", str(take)], home) == []
    assert _heavy_imports(["score", str(take), "--model", str(bundle)], home) == []
