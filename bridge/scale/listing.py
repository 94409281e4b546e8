"""Which files a scale-out job covers: folders (recursively), a text file with one path per line, or a
Parquet file with a `path` column (e.g. a previous results file, or a catalogue made with DuckDB)."""

from __future__ import annotations

from pathlib import Path

from .. import audio
from ..errors import LoopbridgeError

LIST_SUFFIXES = (".txt", ".list", ".parquet")


def list_files(inputs: list[str | Path]) -> list[str]:
    """Paths in a stable order, duplicates dropped; a list file's relative paths are relative to the list."""
    out: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
            out.extend(_read_list(p))
        else:
            out.extend(str(f) for f in audio.expand_paths([p]))
    return list(dict.fromkeys(out))


def _read_list(p: Path) -> list[str]:
    if p.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = [str(x) for x in pq.read_table(p, columns=["path"]).column("path").to_pylist() if x]
        except (OSError, KeyError, ValueError) as exc:
            raise LoopbridgeError(f"{p}: not a Parquet list of files with a 'path' column ({exc})", "bad_list") from exc
    else:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LoopbridgeError(f"{p}: cannot read the list of files ({exc})", "bad_list") from exc
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [str(q if (q := Path(n)).is_absolute() else p.parent / q) for n in names]
