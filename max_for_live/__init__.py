"""The Max for Live device's sources (patcher JSON and script), shipped for `python -m loopbridge.m4l build`."""
