"""The library's statistics per folder (count, durations, tempo and key read from file names), as the page shows them.

Sample packs name tempo and key in the file name ("bass_120bpm_Am_03.wav", "gtr 95 F#min.wav"); where a name
says neither, the loop counts as unknown rather than being guessed at.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_BPM = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)\s*_?bpm", re.IGNORECASE)
_BARE_TEMPO = re.compile(r"^\d{2,3}$")
_KEY = re.compile(r"^([A-G])([#b]?)(m|min|minor|maj|major)?$")
TEMPO_RANGE = (50.0, 220.0)


@dataclass(frozen=True)
class NameInfo:
    tempo_bpm: float | None
    key: str | None  # "A minor", "F# major"


def parse_name(path: str | Path) -> NameInfo:
    """Tempo and key as the file name states them, else as its folder's name does (None where neither does)."""
    p = Path(path)
    own, folder = _parse_stem(p.stem), _parse_stem(p.parent.name)
    return NameInfo(own.tempo_bpm or folder.tempo_bpm, own.key or folder.key)


def _parse_stem(stem: str) -> NameInfo:
    tempo = None
    if m := _BPM.search(stem):
        tempo = float(m.group(1))
    tokens = [t for t in re.split(r"[\s_\-.]+", stem) if t]
    if tempo is None:
        bare = [float(t) for t in tokens if _BARE_TEMPO.match(t) and TEMPO_RANGE[0] <= float(t) <= TEMPO_RANGE[1]]
        tempo = bare[0] if len(bare) == 1 else None
    key = None
    for t in tokens:
        if k := _KEY.match(t):
            mode = "minor" if k.group(3) in ("m", "min", "minor") else "major"
            key = f"{k.group(1)}{k.group(2)} {mode}"
    return NameInfo(tempo, key)


def library_stats(paths: list[str], durations: Sequence[float] | np.ndarray) -> list[dict[str, Any]]:
    """One row per folder: loop count, durations (total, mean, min, max), tempi and key counts from names."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        groups.setdefault(str(Path(p).parent), []).append(i)
    rows = []
    for folder, idx in sorted(groups.items()):
        d = np.asarray(durations, dtype=np.float64)[idx]
        d = d[np.isfinite(d)]
        infos = [parse_name(paths[i]) for i in idx]
        tempi = [n.tempo_bpm for n in infos if n.tempo_bpm is not None]
        keys = Counter(n.key for n in infos if n.key is not None)
        rows.append(
            {
                "folder": folder,
                "count": len(idx),
                "total_s": float(d.sum()),
                "mean_s": float(d.mean()) if d.size else None,
                "min_s": float(d.min()) if d.size else None,
                "max_s": float(d.max()) if d.size else None,
                "durations": [round(float(x), 3) for x in d],
                "tempi": tempi,
                "tempo_unknown": len(idx) - len(tempi),
                "keys": dict(keys.most_common()),
                "key_unknown": len(idx) - sum(keys.values()),
            }
        )
    return rows
