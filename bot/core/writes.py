"""One writer at a time per data dir, and a version stamp that tells readers the library changed.

Ingestion, removal, restores and backups each hold the data dir's write lock (an advisory
`flock`, released by the kernel if the process dies), so a backup taken while the web app adds
an article sees all of it or none of it. Each write bumps `library.version` on the way out; a
running app compares it before answering and reloads its search index when it moved, so
articles ingested from the command line are answered without a restart.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.core.settings import Settings

log = logging.getLogger(__name__)
_held: dict[Path, int] = {}  # lock file -> nesting depth in this process
_guard = threading.RLock()  # threads of one process queue here; processes queue on the flock


def _lock_file(settings: Settings) -> Path:
    return settings.data_dir / "library.lock"


def _version_file(settings: Settings) -> Path:
    return settings.data_dir / "library.version"


def library_version(settings: Settings) -> str:
    """The stamp of the library's last change ('' before any recorded change)."""
    try:
        return _version_file(settings).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def _bump(settings: Settings) -> None:
    path = _version_file(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(uuid.uuid4().hex, encoding="utf-8")
    os.replace(tmp, path)


class LibraryBusy(RuntimeError):
    """Another process holds the write lock, and the caller asked not to wait."""


@contextmanager
def library_write(settings: Settings, changes: bool = True, wait: bool = True) -> Iterator[None]:
    """Hold the data dir's write lock for the block (re-entrant within a process); with
    `changes`, bump the version stamp when the outermost block ends, even after an error (part
    of the work may be stored). Without `wait`, a lock held elsewhere raises LibraryBusy."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = _lock_file(settings).resolve()
    if not _guard.acquire(blocking=wait):
        raise LibraryBusy(f"another thread is changing the library in {settings.data_dir}")
    try:
        depth = _held.get(path, 0)
        fd = -1
        if depth == 0:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    os.close(fd)
                    raise LibraryBusy(f"another process is changing the library in {settings.data_dir}") from None
                log.info("another process is changing the library in %s; waiting for it to finish", settings.data_dir)
                fcntl.flock(fd, fcntl.LOCK_EX)
        _held[path] = depth + 1
        try:
            yield
        finally:
            _held[path] = depth
            if depth == 0:
                del _held[path]
                try:
                    if changes:
                        _bump(settings)
                except OSError as exc:  # a full disk: running apps reload at their next start instead
                    log.warning("could not record the library change in %s: %s", _version_file(settings), exc)
                finally:
                    os.close(fd)  # closing releases the flock
    finally:
        _guard.release()
