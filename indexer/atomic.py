"""Crash-safe file replacement: a reader sees the complete old file or the complete new one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["atomic_write_bytes", "fsync_directory"]


def fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX needs the directory itself synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes | memoryview) -> None:
    """Write to a temporary file beside ``path``, fsync it, rename it over ``path``, fsync the folder.

    If anything fails (a full disk, say) the temporary file is removed and ``path`` is untouched.
    The temporary name is unique per call, so threads writing the same path do not collide.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
