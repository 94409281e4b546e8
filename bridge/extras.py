"""Optional extras: one place that says which `pip install "loopbridge[...]"` a command needs, before it
imports anything heavy, instead of a ModuleNotFoundError traceback on a runtime-only install."""

from __future__ import annotations

import importlib.util

from .errors import LoopbridgeError

# extra → the modules it brings that commands rely on
EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "sklearn", "matplotlib"),
    "heads": ("sklearn",),  # the shallow heads: scikit-learn alone, no torch
    "clap": ("torch", "laion_clap"),
    "ray": ("ray", "pyarrow"),
    "browse": ("starlette", "uvicorn"),
}


class MissingExtra(LoopbridgeError):
    """A command needs an optional extra that is not installed."""


def missing(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules of `extra` (or the given subset) that cannot be imported here."""
    return [m for m in modules or EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise MissingExtra naming the pip command when `what` (e.g. "loopbridge report") can't run here."""
    absent = missing(extra, modules)
    if absent:
        pip_extra = "torch" if extra == "clap" else extra
        raise MissingExtra(
            f'{what} needs {", ".join(absent)}: pip install "loopbridge[{pip_extra}]"', f"missing_{pip_extra}"
        )
