"""Numbers several commands and modules share, in one place so they cannot drift apart."""

from __future__ import annotations

SAMPLE_RATE = 48_000  # Hz: every take is resampled to this for the front-end and the encoders
MAX_SECONDS = 600.0  # the longest file any command or the server decodes (`--max-seconds`)
BATCH_SIZE = 8  # clips per encoder run: the CLI, the server and evaluate batch alike
