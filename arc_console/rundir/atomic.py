"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def as_write_error(exc: BaseException, target: Path) -> OSError:
    """Libraries report a full disk in their own ways (torch.save: RuntimeError); make it an OSError
    that says what happened, so callers handle every failed write alike."""
    if isinstance(exc, OSError):
        return exc
    try:
        free = shutil.disk_usage(target.parent if target.parent.exists() else target).free
    except OSError:
        free = 0
    if free < 16 * 1024 * 1024:
        return OSError(errno.ENOSPC, "No space left on device", str(target))
    return OSError(errno.EIO, f"cannot write ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})",
                   str(target))


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Write a folder in a hidden staging folder beside `target`; on success it replaces `target` in
    one rename (an older `target` is moved aside first and then removed), so readers and crashes see
    the old folder or the new one. On failure the staging folder is removed and the error says
    which folder could not be written."""
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{target.name}-", dir=target.parent))
    try:
        yield staging
        fsync_dir(staging)
        if target.exists():
            old = target.with_name(f".old-{target.name}")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
        fsync_dir(target.parent)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise as_write_error(exc, target) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
