"""The library's own copy of each media file, taken before anything else reads it.

Ingest hashes, probes and indexes the copy, never the user's file, so the id, the rows and the
stored file come from the same bytes even when the original changes during an ingest. The copy
never shares an inode with the original (no hard link): editing the original in place cannot
change the library. Where the filesystem can, the copy is a reflink (btrfs, XFS, bcachefs, ZFS
2.2+: the blocks are shared copy-on-write, so it is instant and costs no space until one side
changes); elsewhere it is a real copy, hashed as it is written, so the file is read once.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

from rag.errors import IngestError

ID_HEX_DIGITS = 16  # 64 bits of SHA-256: collisions are out of reach for any one library
COPY_BLOCK = 1 << 20  # bytes read and written at a time while hashing or copying
FICLONE = 0x40049409  # Linux ioctl: make the target share the source's blocks (a reflink)
# Errors that mean "this filesystem (or pair of them) can't reflink": fall back to a copy.
NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF, errno.EPERM}
INCOMING = "incoming"  # name prefix of copies whose id is not known yet
STALE_INCOMING_S = 24 * 3600  # an incoming copy untouched this long is a leftover, whoever made it
FULL_BYTES = 1 << 20  # less free space than this when something failed: the disk was full


def content_id(path: Path) -> str:
    """The video's id: a hash of its bytes, so a renamed copy is still the same video."""
    with open(path, "rb") as src:
        return _hash(src)


def _hash(src, write=None) -> str:
    """The id of what `src` holds, handing each block to `write` as well when given."""
    digest = hashlib.sha256()
    while block := src.read(COPY_BLOCK):
        digest.update(block)
        if write:
            write(block)
    return digest.hexdigest()[:ID_HEX_DIGITS]


def take_copy(source: Path, folder: Path, margin_bytes: int, owned: bool = False) -> tuple[Path, str]:
    """Copy `source` into `folder` (a reflink where possible) and hash the copy: (copy, its id).
    `owned`: the file is ours (an upload in the data folder): hard-linked, so the copy costs
    nothing and the upload stays until its job ends (a crash mid-ingest must not lose it).
    Refuses early, before writing anything, when the copy and `margin_bytes` don't fit."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_incoming(folder)
    target = folder / f"{INCOMING}-{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{source.suffix.lower()}"
    try:
        if owned and _link(source, target):
            require_space(folder, margin_bytes, source.name)
            return target, content_id(target)
        if _reflink(source, target):
            require_space(folder, margin_bytes, source.name)
            return target, content_id(target)
        require_space(folder, source.stat().st_size + margin_bytes, source.name)
        return target, _copy_hashing(source, target)
    except BaseException as e:
        target.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise disk_full(folder) from e
        raise


def require_space(folder: Path, needed: int, name: str) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise IngestError(
            f"not enough free space for {name} in {folder}: it needs {_size(needed)} (the file and "
            f"VIDRAG_MIN_FREE_MB to spare), {_size(free)} is free"
        )


def disk_full(folder: Path) -> IngestError:
    return IngestError(f"the disk holding {folder} is full: nothing was added, and what this add had written "
                       "is removed; free some space, then add again")


def looks_full(folder: Path, error: BaseException) -> bool:
    """Whether `error` came from a full disk. Libraries hide the cause (Milvus Lite reports its
    own failure, ffmpeg its own line), so free space at the time of failure decides too."""
    seen: BaseException | None = error
    visited: set[int] = set()  # a chain can loop (an error re-raised from inside its own handling)
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return shutil.disk_usage(folder).free < FULL_BYTES
    except OSError:
        return False


def remove_stale_incoming(folder: Path) -> None:
    """Incoming copies left by a killed ingest: this machine's whose process is gone, and
    anyone's untouched for a day (another worker sharing the folder)."""
    host = _host_tag()
    for path in folder.glob(f"{INCOMING}-*"):
        parts = path.name.split("-")
        try:
            dead = parts[1] == host and not _alive(int(parts[2]))
            if dead or time.time() - path.stat().st_mtime > STALE_INCOMING_S:
                path.unlink(missing_ok=True)
        except (IndexError, ValueError, OSError):
            continue


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
        return True
    except OSError as e:
        if e.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):  # no hard links here: copy
            return False
        raise


def _reflink(source: Path, target: Path) -> bool:
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return False
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return True
        except OSError as e:
            if e.errno in NO_REFLINK:
                return False
            raise


def _copy_hashing(source: Path, target: Path) -> str:
    """A real copy whose hash is taken from the very bytes written: what changes in the source
    while it is copied can't make the id and the copy disagree."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        return _hash(src, dst.write)


def _host_tag() -> str:
    """This machine, in a form safe inside a file name (host names may hold dots and dashes)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
