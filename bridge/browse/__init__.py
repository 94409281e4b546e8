"""`loopbridge browse`: a local web app over a scored library (issue 15; only the file-serving rules so far)."""
