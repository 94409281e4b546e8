"""The runtime installs from the wheel alone and embeds audio without torch."""

import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
from conftest import tone, write_audio

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kw)


def test_wheel_installs_runtime_only_and_embeds_without_torch(tmp_path: Path) -> None:
    built = _run(sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", ROOT)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("loopbridge-*.whl"))

    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("loopbridge/export/") for n in names)
    assert not any(n.split("/")[0] in ("bridge", "export") for n in names)  # no colliding top-level names

    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py, lb = env_dir / "bin" / "python", env_dir / "bin" / "loopbridge"
    installed = _run(py, "-m", "pip", "install", "-q", wheel)
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert _run(py, "-c", "import torch").returncode != 0  # really a torch-free environment

    helped = _run(lb, "--help")
    assert helped.returncode == 0
    assert "embed" in helped.stdout

    take = write_audio(tmp_path / "take.wav", tone(3.0, sr=44_100), 44_100)
    out = tmp_path / "emb.npz"
    env = {"LOOPBRIDGE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    embedded = _run(lb, "embed", take, "--out", out, "--encoder", "mel-stats", env=env)
    assert embedded.returncode == 0, embedded.stderr[-2000:]
    with np.load(out) as z:
        assert z["embeddings"].shape[0] == 1
        assert np.isfinite(z["embeddings"]).all()

    device = _run(py, "-m", "loopbridge.m4l", "build", "--out", tmp_path / "device", env=env)
    assert device.returncode == 0, device.stderr[-2000:]
    assert (tmp_path / "device" / "loopbridge.amxd").read_bytes()[:4] == b"ampf"
    assert (tmp_path / "device" / "loopbridge.js").is_file()

    # the shallow heads fit with scikit-learn alone (librosa brings it); no torch is imported or needed
    library = tmp_path / "library"
    for i in range(8):
        write_audio(library / f"loop{i}.wav", tone(2.0, sr=44_100, freq=100.0 + 15 * i, seed=i), 44_100)
    fitted = _run(lb, "fit", library, "--name", "shallow", "--heads", "knn,pca", "--encoder", "mel-stats", env=env)
    assert fitted.returncode == 0, fitted.stderr[-2000:]
    assert "knn" in fitted.stdout
    assert "pca" in fitted.stdout
    scored = _run(lb, "score", library / "loop0.wav", "--model", "shallow", "--json", env=env)
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "knn" in scored.stdout
    noise = np.random.default_rng(0).standard_normal(88_200).astype(np.float32) * 0.5
    write_audio(library / "noise.wav", noise, 44_100)
    (library / "labels.csv").write_text(
        "file,label\n" + "".join(f"loop{i}.wav,0\n" for i in range(8)) + "noise.wav,1\n"
    )
    evaluated = _run(lb, "evaluate", "--model", "shallow", "--labels", library / "labels.csv", "--no-progress", env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]  # scikit-learn's metrics come with the runtime
    assert "AUROC" in evaluated.stdout
    neural = _run(lb, "fit", library, "--name", "deep", "--heads", "knn,aewres", "--encoder", "mel-stats", env=env)
    assert neural.returncode == 2, neural.stderr[-2000:]
    assert 'pip install "loopbridge[torch]"' in neural.stderr
    assert "needs torch: " in neural.stderr
    assert "--heads iforest,pca,knn,mahalanobis" in neural.stderr  # what does run here
    assert "Traceback" not in neural.stderr

    # every torch-side command says which extra to install instead of a traceback (evaluate needs only
    # scikit-learn, which librosa brings, so it runs here)
    for command in (
        ("report", "--model", "m", "--data", tmp_path),
        ("encoder", "export", "--checkpoint", tmp_path / "x.pt", "--preset", "clap-htsat-fused"),
    ):
        refused = _run(lb, *command, env=env)
        assert refused.returncode == 2, (command, refused.stderr[-2000:])
        assert 'pip install "loopbridge[torch]"' in refused.stderr, (command, refused.stderr)
        assert "Traceback" not in refused.stderr
