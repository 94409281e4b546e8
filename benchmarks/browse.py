"""`loopbridge browse` with a large library: page load time, interaction latency and memory for N synthetic takes.

A mel-stats model is fitted on a few synthetic loops; N takes are then made up as results (random head scores,
a reason on some, random embeddings) so the page's cost is measured without scoring N files. A handful of
them point at real files so selecting a take plays audio. The app runs in-process (uvicorn in a thread) and
Debian's Chromium, driven by Playwright, loads the page.

    python benchmarks/browse.py                 # 10,000 takes
    python benchmarks/browse.py --takes 2000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # helpers_heads: synthetic loops


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_takes(scorer, library: np.ndarray, n: int, real: list[Path], seed: int = 0):
    """N TakeResults scored by nobody: scores drawn around the training scores, 5 % with a click reason, and
    embeddings scattered around the library's loops (so the map looks like a library, not one blob)."""
    from loopbridge.results import Finding, TakeResult

    bundle = scorer.scorer.bundle
    rng = np.random.default_rng(seed)
    heads = {h: rng.choice(s, n) * rng.lognormal(0.0, 0.6, n) for h, s in bundle.training_scores.items()}
    takes = []
    for i in range(n):
        path = str(real[i]) if i < len(real) else f"/samples/folder_{i % 20:02d}/take_{i:05d}_{90 + i % 60}bpm.wav"
        reasons = [Finding("click", 0.6, 0.5, 0.0001, "click at 0.50 s")] if i % 20 == 0 else []
        scores = {h: float(s[i]) for h, s in heads.items()}
        takes.append(
            TakeResult(
                path=path,
                model=bundle.name,
                duration_s=float(rng.uniform(1.0, 30.0)),
                head=bundle.primary,
                score=scores[bundle.primary],
                threshold=bundle.thresholds[bundle.primary],
                head_flag=scores[bundle.primary] > bundle.thresholds[bundle.primary],
                head_scores=scores,
                head_thresholds=dict(bundle.thresholds),
                reasons=reasons,
            )
        )
    near = library[rng.integers(0, len(library), n)]
    vectors = near + 0.5 * library.std(axis=0) * rng.standard_normal((n, library.shape[1]))
    return takes, vectors.astype(np.float32)


def serve(app) -> tuple[str, object]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--takes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="page loads (median reported)")
    ap.add_argument("--screenshot", type=Path, help="save the page (viewport) with a take selected here")
    args = ap.parse_args()
    from helpers_heads import write_loops
    from playwright.sync_api import sync_playwright

    from loopbridge.browse import catalog
    from loopbridge.browse.app import create_app
    from loopbridge.pipeline import Scorer

    tmp = Path(tempfile.mkdtemp(prefix="lb-browse-bench-"))
    os.environ["LOOPBRIDGE_HOME"] = str(tmp / "home")
    real = write_loops(tmp / "lib", 12) + write_loops(tmp / "takes", 4, seed=300)
    fit = ["fit", str(tmp / "lib"), "--name", "b", "--encoder", "mel-stats", "--heads", "knn,pca", "--no-progress"]
    # in a child process, so this one's memory is what `loopbridge browse` holds (no training stack)
    subprocess.run([sys.executable, "-m", "loopbridge", *fit], check=True, capture_output=True)

    rss0 = rss_mb()
    t0 = time.perf_counter()
    scorer = catalog.TakeScorer(Scorer("b"))
    library, _ = catalog.training_library(scorer.scorer)
    takes, vectors = synthetic_takes(scorer, library.vectors, args.takes, real[12:])
    cat = catalog.build(scorer, takes, vectors, library)
    build_s = time.perf_counter() - t0
    app = create_app(cat, [tmp], tmp / "uploads")
    (tmp / "uploads").mkdir()
    url, _ = serve(app)
    t = time.perf_counter()
    with urllib.request.urlopen(url + "/api/data") as r:
        payload = r.read()
    api_s = time.perf_counter() - t
    rss_app = rss_mb()

    rows: list[tuple[str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--enable-unsafe-swiftshader", "--mute-audio"]
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})

        def load() -> None:
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")

        def slide() -> None:
            page.fill("#quantile", "0.9")
            page.wait_for_selector("body[data-quantile='0.9']")

        def select() -> None:
            page.click("#takes tbody tr:first-child")
            page.wait_for_function("document.getElementById('wave')?.layout")

        loads = [timed(load) for _ in range(args.repeat)]
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        heap = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}["JSHeapUsedSize"]
        points = page.evaluate("document.getElementById('map').data[1].x.length")
        slider = timed(slide)
        sort = timed(lambda: page.click("#takes th[data-sort='name']"))
        flagged = timed(lambda: page.check("#flagged-only"))
        selected = timed(select)
        if args.screenshot:
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.screenshot))
        browser.close()
    assert points == args.takes, points

    rows += [
        ("takes on the map (WebGL scattergl)", f"{points:,}"),
        ("catalog build (library embed from cache, PCA, placement)", f"{build_s:.2f} s"),
        ("/api/data", f"{api_s * 1000:.0f} ms, {len(payload) / 1e6:.1f} MB JSON"),
        (
            "page load to interactive (median)",
            f"{statistics.median(loads):.2f} s (runs: {', '.join(f'{x:.2f}' for x in loads)})",
        ),
        ("sensitivity slider → counts, table, map updated", f"{slider * 1000:.0f} ms"),
        ("sort table by name", f"{sort * 1000:.0f} ms"),
        ("flagged-only filter", f"{flagged * 1000:.0f} ms"),
        ("select a take (waveform, heads, neighbours)", f"{selected * 1000:.0f} ms"),
        ("app process RSS: before / with catalog and server", f"{rss0:.0f} MB / {rss_app:.0f} MB"),
        ("page JS heap", f"{heap / 1e6:.0f} MB"),
    ]
    print(
        f"loopbridge browse, {args.takes:,} synthetic takes — {cpu_name()}, "
        f"{os.cpu_count()} cores, headless Chromium (SwiftShader WebGL, no GPU); machine shared, numbers noisy"
    )
    width = max(len(k) for k, _ in rows)
    print(f"| {'what':<{width}} | measured |\n|{'-' * (width + 2)}|----------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")
    print(json.dumps({"takes": args.takes, "load_s": loads, "rss_mb": rss_app, "heap_mb": heap / 1e6}))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
