"""`loopbridge browse`: a local web app over a scored library (map, table, player with reasons, sensitivity, uploads).

files: which paths may be served, and byte ranges · catalog: takes + library with embeddings · projection: the
2-D map · waveform, stats: what the page draws · app: the Starlette app (the `browse` extra) · static/: the page.
"""
