"""The browse app's file rules on real files and symlinks: allowed roots only, byte ranges as HTTP defines them."""

from pathlib import Path

import pytest

from loopbridge.browse.files import BadRange, Forbidden, parse_range, resolve_allowed


def test_only_files_under_a_root_resolve(tmp_path: Path) -> None:
    root, outside = tmp_path / "lib", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    take = root / "take.wav"
    take.write_bytes(b"RIFF")
    (outside / "key.txt").write_text("x")
    (root / "link.txt").symlink_to(outside / "key.txt")
    assert resolve_allowed(root / "sub" / ".." / "take.wav", [root]) == take.resolve()
    with pytest.raises(Forbidden):
        resolve_allowed(root / ".." / "secret" / "key.txt", [root])
    with pytest.raises(Forbidden):
        resolve_allowed(root / "link.txt", [root])
    with pytest.raises(FileNotFoundError):
        resolve_allowed(root / "missing.wav", [root])


def test_ranges() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-", 100) == (0, 99)
    assert parse_range("bytes=10-19", 100) == (10, 19)
    assert parse_range("bytes=90-500", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    for bad in ("bytes=100-", "bytes=-", "items=0-1", "bytes=5-2"):
        with pytest.raises(BadRange):
            parse_range(bad, 100)
