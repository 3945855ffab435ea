"""Files that hold tokens, phones or members' points: made readable by their owner only,
from the moment they exist (a file made readable and then narrowed can be read in between)."""

from __future__ import annotations

import os
from pathlib import Path

MODE = 0o600


def create_private(path: Path) -> bool:
    """Make ``path`` an empty file only its owner may read, unless it exists; whether it was
    made. SQLite gives a database's -wal and -shm files the database's own mode."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, whole or not at all (written beside it, synced, then
    renamed over it), readable by its owner only."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(part, MODE)  # a .part left by an older run may have had another mode
    os.replace(part, path)
