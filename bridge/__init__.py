"""loopbridge runtime: audio → CLAP features → ONNX encoder → heads → flags. Never imports torch."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("loopbridge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
