"""The library's statistics per folder (count, durations, tempo and key read from file names), as the page shows them.

Tempo and key are read from names by the parsers the checks judge a take by (checks.take.tempo_from_name,
music.context.key_from_name: "bass_120bpm_Am_03.wav", "Guitar 90 BPM A minor.wav"), so the page shows what the
checks will assume; where a name says neither, the loop counts as unknown rather than being guessed at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checks.take import tempo_from_name
from ..music.context import key_from_name


@dataclass(frozen=True)
class NameInfo:
    tempo_bpm: float | None
    key: str | None  # "A minor", "F# major" (music.context.Key's spelling)


def parse_name(path: str | Path) -> NameInfo:
    """Tempo and key as the file name states them, else as its folder's name does (None where neither does)."""
    p = Path(path)
    folder = p.parent.name + ".wav"  # the parsers read a file's stem; this one's stem is the whole folder name
    key = key_from_name(str(p)) or key_from_name(folder)
    return NameInfo(tempo_from_name(str(p)) or tempo_from_name(folder), None if key is None else str(key))


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
