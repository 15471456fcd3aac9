"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc/self/status); elsewhere
    set and put back at once, by way of 0o077, so a file another thread creates meanwhile is private,
    never more open."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode open() gives a new file under the user's umask (tempfile's files are 0600)."""
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    """The mode mkdir() gives a new folder under the user's umask (tempfile's folders are 0700)."""
    return 0o777 & ~current_umask()


def make_temp_folder(parent: Path, prefix: str) -> Path:
    """A new folder under `parent` with a name no one else has, with the modes the user's umask gives
    (it is renamed into place: its modes are what readers get)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(folder, folder_mode())
    return folder


def apply_umask_modes(folder: Path, itself: bool = True) -> None:
    """Give everything below `folder` (and `folder` itself unless `itself` is False) the modes the user's
    umask gives: libraries that write through temporary files of their own (safetensors' save_file)
    leave them 0600."""
    files, folders = file_mode(), folder_mode()
    if itself:
        os.chmod(folder, folders)
    for root, dirs, names in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), folders, follow_symlinks=False)
        for name in names:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, files)


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
        os.fchmod(fd, file_mode())  # the file replaces one readers open: mkstemp's 0600 would lock them out
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
    the old folder or the new one. Its folders and files get the modes the user's umask gives. On failure the staging folder is removed and the error says
    which folder could not be written."""
    staging = make_temp_folder(target.parent, f".staging-{target.name}-")
    try:
        yield staging
        apply_umask_modes(staging)
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
