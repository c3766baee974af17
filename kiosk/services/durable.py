"""Durability helpers shared by everything that renames files into place (outbox set-aside,
hub keys, release switch): a rename is only on disk once its directory entry is."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Flush `directory`'s entries (a rename or new file in it survives a power cut)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
