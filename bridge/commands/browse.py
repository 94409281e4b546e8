"""`loopbridge browse`: look at and listen to a scored library in the browser (a local app on 127.0.0.1)."""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
import webbrowser
from pathlib import Path

from ..errors import LoopbridgeError
from ..limits import MAX_SECONDS

log = logging.getLogger("loopbridge")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "browse",
        help="a local web page: the library's map, the flagged takes, listen, tune sensitivity",
        description="Scores the takes (or reads --results), then serves a page on 127.0.0.1 and opens it.",
    )
    p.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR", help="takes to score and show (searched recursively)")
    p.add_argument("--model", required=True, help="model name or bundle folder")
    p.add_argument("--results", type=Path, help="show the Parquet of `score --engine ray --out` instead of scoring")
    p.add_argument("--quantile", type=float, help="starting sensitivity (default: the model's own)")
    p.add_argument(
        "--map", choices=("pca", "umap"), default="pca", help="2-D map of the embeddings (umap needs umap-learn)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s: this computer only)")
    p.add_argument("--port", type=int, default=8765, help="port (default %(default)s; 0 = any free port)")
    p.add_argument("--no-open", action="store_true", help="do not open the page in the browser")
    p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="refuse files longer than this")
    p.add_argument("--max-upload-mb", type=float, default=64.0, help="largest file the page may upload")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..extras import require

    require("browse", "loopbridge browse")
    import uvicorn

    from ..browse import catalog
    from ..browse.app import create_app
    from ..pipeline import Scorer

    if bool(args.inputs) == bool(args.results):
        raise LoopbridgeError("give either FILE_OR_DIR... or --results FILE (not both, not neither)", "usage")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("note: serving on %s: other computers on the network can see these files' names", args.host)
    scorer = catalog.TakeScorer(Scorer(args.model))
    bundle = scorer.scorer.bundle
    if args.quantile is not None:
        bundle.set_quantile(args.quantile)
    if args.results:
        takes, vectors = catalog.load_results(scorer.scorer, args.results)
        roots = sorted({Path(t.path).parent for t in takes})
    else:
        log.info("scoring %s with model '%s'…", ", ".join(args.inputs), bundle.name)
        takes, vectors, failures = scorer.score(args.inputs, args.max_seconds)
        for f in failures:
            log.warning("skipped %s", f.error.message)
        roots = [Path(p) for p in args.inputs]
    library, library_roots = catalog.training_library(scorer.scorer)
    cat = catalog.build(scorer, takes, vectors, library, args.map)
    with tempfile.TemporaryDirectory(prefix="loopbridge-browse-") as uploads:
        app = create_app(cat, [*roots, *library_roots], Path(uploads), int(args.max_upload_mb * 1_000_000))
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning"))
        threading.Thread(target=_announce, args=(server, args.no_open), daemon=True).start()
        try:
            server.run()
        except SystemExit as exc:  # uvicorn exits when it cannot bind
            raise LoopbridgeError(
                f"could not listen on {args.host}:{args.port} (in use? choose another --port)", "port"
            ) from exc
    return 0


def _announce(server, no_open: bool) -> None:
    """Print the address once the socket is bound (the port may have been 0) and open the page."""
    while not server.started:
        time.sleep(0.05)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    url = f"http://{host}:{port}/"
    print(f"loopbridge browse: {url}  (Ctrl-C to stop)", flush=True)
    if not no_open:
        webbrowser.open(url)
