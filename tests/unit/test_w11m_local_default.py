"""The quick start's generated keys and server secret survive a crash (wave 11, M).

The value is written to ``.<name>.<8 hex>`` and hard-linked into place. The directory was not
synced after the link, so a power cut could take the file away once its keys were shown (the
next start made new ones: every client's keys stopped working); a crash between writing and
removing the temporary file left it behind, holding a secret, for good.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from s3proxy.config.local_default import (
    CREDENTIALS_FILE,
    SECRET_FILE,
    local_default_settings,
    with_secret_kept_in,
)


def keys(data: Path) -> tuple[str, str]:
    pair = local_default_settings(data, env={}).settings.tenants["default"].keys[0]
    return pair.access_key, pair.secret_key.get_secret_value()


def test_the_directory_is_synced_once_the_file_is_linked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[bool, bool]] = []  # (a directory?, the file in place?) per fsync
    fsync = os.fsync

    def recording(fd: int) -> None:
        placed = (tmp_path / CREDENTIALS_FILE).exists() or (tmp_path / SECRET_FILE).exists()
        synced.append((stat.S_ISDIR(os.fstat(fd).st_mode), placed))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    keys(tmp_path)
    assert (True, True) in synced
    synced.clear()
    settings = local_default_settings(tmp_path, env={}).settings
    assert synced == []  # a start that finds the file writes nothing
    assert with_secret_kept_in(settings, tmp_path).server.secret is not None
    assert (True, True) in synced


def test_temporary_files_a_crash_left_are_removed_at_start(tmp_path: Path) -> None:
    first = keys(tmp_path)
    strays = [f".{CREDENTIALS_FILE}.0123abcd", f".{SECRET_FILE}.deadbeef"]
    others = [
        f".{CREDENTIALS_FILE}.0123abcd9",  # not the pattern: not ours
        f".{CREDENTIALS_FILE}.notes",
        f"{CREDENTIALS_FILE}.0123abcd",
        ".other.0123abcd",
        "blobs",
    ]
    for name in strays + others:
        (tmp_path / name).write_text("x")
    assert keys(tmp_path) == first
    with_secret_kept_in(local_default_settings(tmp_path, env={}).settings, tmp_path)
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([CREDENTIALS_FILE, SECRET_FILE, *others])


def test_a_first_start_whose_temp_file_another_start_removed_writes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes starting at once: one's clean-up may remove the other's temporary file
    before it is linked. The other writes again instead of failing to start."""
    link = os.link
    taken: list[object] = []

    def racing(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if not taken:
            taken.append(source)
            os.unlink(source)  # what the other start's clean-up does
        link(source, target)

    monkeypatch.setattr(os, "link", racing)
    access_key, secret_key = keys(tmp_path)
    assert taken and access_key.startswith("S3P") and secret_key
    assert sorted(path.name for path in tmp_path.iterdir()) == [CREDENTIALS_FILE]
    monkeypatch.undo()
    assert keys(tmp_path) == (access_key, secret_key)
