"""Downloading CLAP checkpoints: huggingface_hub does the transfer, we check size and sha256.

A checkpoint that fails the check is deleted, never left in the cache where a later export
could pick it up.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from .encoders import PRESETS, EncoderPreset
from .errors import EncoderError
from .hashing import file_sha256
from .paths import checkpoints_dir

log = logging.getLogger(__name__)

ATTEMPTS = 3


def clap_preset(name: str) -> EncoderPreset:
    preset = PRESETS.get(name)
    if preset is None or not preset.needs_weights:
        downloadable = ", ".join(n for n, p in PRESETS.items() if p.needs_weights)
        raise EncoderError(f"{name!r} has no weights to download; choose one of {downloadable}")
    return preset


def expected_file(preset: EncoderPreset) -> tuple[str | None, int | None]:
    """(sha256, size) to check a download against: the values pinned in PRESETS, else what the Hub
    reports for the file (its LFS ETag is the sha256), which still catches a damaged transfer."""
    if preset.sha256:
        return preset.sha256, preset.size
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(*preset.hub_file, endpoint=os.environ.get("HF_ENDPOINT"))
    try:
        meta = get_hf_file_metadata(url)
    except Exception as exc:  # requests and huggingface_hub raise many types
        raise EncoderError(f"could not ask the Hub for {preset.filename}'s checksum ({exc}); try again") from exc
    sha256 = meta.etag if meta.etag and re.fullmatch(r"[0-9a-f]{64}", meta.etag) else None
    if sha256 is None:
        log.warning("NOTE: no sha256 known for %s; only its size can be checked", preset.filename)
    return sha256, preset.size or meta.size


def verify(path: Path, sha256: str | None, size: int | None) -> None:
    """Raise (and delete the file) unless it has the expected size and sha256."""
    actual = path.stat().st_size
    problem = None
    if size and actual != size:
        problem = f"has {actual} bytes, expected {size}"
    elif sha256 and file_sha256(path) != sha256:
        problem = "has the wrong sha256 (corrupt or tampered download)"
    if problem:
        _forget(path)
        raise EncoderError(f"{path.name} {problem}; deleted it, run `loopbridge encoder fetch` again")


def _forget(path: Path) -> None:
    """Delete a bad download and huggingface_hub's record of it, so the next fetch starts clean."""
    path.unlink(missing_ok=True)
    record = path.parent / ".cache" / "huggingface" / "download" / f"{path.name}.metadata"
    record.unlink(missing_ok=True)


def fetch_checkpoint(name: str) -> Path:
    """The preset's checkpoint in the cache, downloaded (resuming after interruptions) and verified."""
    import requests
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    preset = clap_preset(name)
    dest = checkpoints_dir()
    dest.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    path: Path | None = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            path = Path(
                hf_hub_download(
                    repo_id=preset.hub_file[0],
                    filename=preset.hub_file[1],
                    local_dir=dest,
                    # read now, not at huggingface_hub's import, so a mirror set later still counts
                    endpoint=os.environ.get("HF_ENDPOINT"),
                )
            )
            break
        except LocalEntryNotFoundError as exc:  # huggingface_hub already retried reaching the server
            last_error = exc
            break
        except HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code < 500:
                raise EncoderError(f"{preset.repo_id}/{preset.filename}: {exc}") from exc
            last_error = exc
        except (requests.RequestException, OSError) as exc:  # dropped mid-transfer: the next try resumes
            last_error = exc
        log.warning("download of %s failed (%s); attempt %d of %d", preset.filename, last_error, attempt, ATTEMPTS)
    if path is None:
        raise EncoderError(
            f"could not download {preset.filename} from {preset.repo_id} ({last_error}). Check the connection, "
            "or download it yourself and run `loopbridge encoder export --checkpoint FILE`"
        )
    verify(path, *expected_file(preset))
    return path
