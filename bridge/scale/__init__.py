"""Scale-out: `score`/`embed --engine ray` on Ray Data, results in Parquet (the `loopbridge[ray]` extra).

    listing.py  folders, a text list or a Parquet list → paths
    stages.py   the Ray Data stages: one actor per CPU doing all of `score`/`embed` (CPU-only clusters), or
                CPU decode + checks + encoder front-end tasks feeding encoder actors + heads (GPUs)
    output.py   the Parquet results: schema, part files per batch, resume (path + content hash), merge
    job.py      connects to Ray, builds the pipeline, streams results into part files, prints the summary

Nothing here imports ray at module import time except stages.py and job.py, which the commands import
only after `extras.require("ray", ...)`.
"""
