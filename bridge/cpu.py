"""What the CPU can do, read once: the int8 kernels and benchmarks depend on it (see README, "CPUs measured")."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

# x86 flags that decide ONNX Runtime's int8 matrix kernels: with VNNI (or AMX) the u8s8 dot product
# accumulates in 32 bits; without it (AVX2 only) it goes through VPMADDUBSW, whose 16-bit pair sums saturate.
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@lru_cache(maxsize=4)
def _cpuinfo(*keys: str) -> str | None:
    """The value of the first /proc/cpuinfo line starting with one of `keys` (None where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(keys):
            return line.split(":", 1)[1].strip()
    return None


def flags() -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo has none)."""
    return frozenset((_cpuinfo("flags", "Features") or "").split())


def has_int8_dot() -> bool:
    """True where int8 u8s8 products accumulate without saturating: x86 VNNI/AMX, or any ARM64 CPU."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return True
    return any(f in flags() for f in INT8_DOT_FLAGS)


def vendor() -> str:
    """The CPU's vendor id ("GenuineIntel", "AuthenticAMD"; "" where /proc/cpuinfo has none): the engine choice
    depends on it (bridge/engines.py)."""
    return _cpuinfo("vendor_id") or ""


def model_name() -> str:
    """The CPU's model name, for benchmark tables."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def describe() -> str:
    """One line naming the CPU and the int8 kernel path it gets, printed by every benchmark."""
    isa = sorted(f for f in flags() if f in ("avx2", "avx512f", *INT8_DOT_FLAGS))
    return f"{model_name()} [{', '.join(isa) or platform.machine()}]"
