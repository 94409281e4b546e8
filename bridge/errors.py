"""Errors are values with a code and a message a musician can act on; every front door passes them on unchanged."""

from __future__ import annotations

from pathlib import Path


class LoopbridgeError(Exception):
    """A user-facing failure: `code` is stable (the OSC `error` code), `message` is for people."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class AudioError(LoopbridgeError):
    """A file that cannot be turned into audio; names the file and why."""

    def __init__(self, path: str | Path, code: str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}", code)


class EncoderError(LoopbridgeError):
    code = "encoder"


class ModelError(LoopbridgeError):
    code = "model"
