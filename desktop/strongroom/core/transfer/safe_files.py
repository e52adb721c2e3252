"""Reading untrusted files safely: opening without following links, hashing, copying.

Files from a transfer drive are opened without following symbolic links and without
blocking (a FIFO would otherwise hang the open), and are accepted only if they are
regular files with a single link. Every read is counted, so a file that grows or shrinks
while it is read is noticed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from strongroom.core.errors import StrongroomError
from strongroom.core.progress import Progress

CHUNK = 4 * 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class UnsafeFileError(StrongroomError, OSError):
    """The path is not something Strongroom will read: link, device, FIFO, hard link, folder."""


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def open_regular_file(path: Path | str, allow_hard_links: bool = False,
                      dir_fd: int | None = None) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading if it is a plain regular file; return (fd, its stat)."""
    try:
        fd = os.open(path, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP:  # the last component is a symbolic link
            raise UnsafeFileError(error.errno, "it is a symbolic link", str(path)) from None
        if error.errno in (errno.ENXIO, errno.ENODEV):  # a socket or a device without driver
            kind = file_kind(os.stat(path, dir_fd=dir_fd, follow_symlinks=False))
            raise UnsafeFileError(error.errno, f"it is a {kind}", str(path)) from None
        raise
    try:
        status = os.fstat(fd)
        kind = file_kind(status)
        if kind != "regular file":
            raise UnsafeFileError(0, f"it is a {kind}", str(path))
        if status.st_nlink > 1 and not allow_hard_links:
            raise UnsafeFileError(0, f"it has {status.st_nlink} hard links (another name shares "
                                     "its bytes); copy it as a plain file", str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, status


def open_beneath(root: Path, relative: str, allow_hard_links: bool = False) -> tuple[int, os.stat_result]:
    """Open ``root/relative`` as `open_regular_file` does, refusing a symbolic link at any
    level: each folder on the way is opened relative to the one before, without following
    links, so nothing can point the read outside ``root``."""
    parts = relative.split("/")
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts[:-1]):
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    where = "/".join(parts[: index + 1])
                    raise UnsafeFileError(
                        error.errno, f"the folder {where!r} on its path is a symbolic link "
                                     "or not a folder", relative) from None
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        return open_regular_file(parts[-1], allow_hard_links, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def file_kind(status: os.stat_result) -> str:
    mode = status.st_mode
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"),
                       (stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int


def hash_fd(fd: int, progress: Progress | None = None, label: str = "",
            buffer: bytearray | None = None) -> Digest:
    """SHA-256 and length of everything readable from ``fd`` (from its current position)."""
    digest = hashlib.sha256()
    buffer = buffer or bytearray(CHUNK)
    view = memoryview(buffer)
    size = 0
    while True:
        n = os.readv(fd, [view])
        if not n:
            break
        digest.update(view[:n])  # releases the GIL: files hash in parallel on threads
        size += n
        if progress is not None:
            progress.add(n, label)
    return Digest(digest.hexdigest(), size)


def hash_file(path: Path, progress: Progress | None = None, label: str = "",
              allow_hard_links: bool = False) -> Digest:
    """Hash a regular file opened safely (see `open_regular_file`)."""
    fd, _ = open_regular_file(path, allow_hard_links)
    try:
        return hash_fd(fd, progress, label or path.name)
    finally:
        os.close(fd)


def copy_and_hash(source: int, target: Path, progress: Progress, label: str,
                  fsync: bool = True) -> tuple[str, int]:
    """Copy ``source`` to the new file ``target`` in the kernel while this thread hashes
    what has landed; fsync unless told not to. Returns (sha256 of the copy, bytes copied)."""
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    landed: queue.Queue = queue.Queue()
    stop = threading.Event()
    failure: list[BaseException] = []

    def copier() -> None:
        try:
            offset = 0
            while not stop.is_set():
                n = _copy_chunk(source, out, offset)
                if not n:
                    break
                offset += n
                landed.put(n)
        except BaseException as error:  # handed to the hashing side below
            failure.append(error)
        finally:
            landed.put(None)

    thread = threading.Thread(target=copier, name="strongroom-copy")
    thread.start()
    digest = hashlib.sha256()
    view = memoryview(bytearray(CHUNK))
    copied = 0
    try:
        back = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        try:
            while (n := landed.get()) is not None:
                while n:
                    got = os.preadv(back, [view[: min(n, CHUNK)]], copied)
                    if not got:
                        raise OSError(errno.EIO, "the copy could not be read back")
                    digest.update(view[:got])
                    copied += got
                    n -= got
                    progress.add(got, label)
        finally:
            os.close(back)
        thread.join()
        if failure:
            raise failure[0]
        if fsync:
            os.fsync(out)
    finally:
        stop.set()
        thread.join()
        os.close(out)
    return digest.hexdigest(), copied


def _copy_chunk(source: int, out: int, offset: int) -> int:
    try:
        return os.copy_file_range(source, out, CHUNK, offset, offset)
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    data = os.pread(source, CHUNK, offset)  # file systems without copy_file_range
    written = 0
    while written < len(data):
        written += os.pwrite(out, data[written:], offset + written)
    return len(data)
