"""Make a rename or a new directory entry survive a power cut: fsync the directory holding it.

A file's own fsync makes its bytes durable, not its name: after ``rename`` (or ``link``) into
place, the directory's entry is durable only once the directory itself is fsynced. The local
store's blobs and the quick start's credentials and server secret both rely on this.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """fsync ``directory`` itself, so that the entries renamed or linked into it are kept."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
