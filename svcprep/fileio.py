"""Low-level file operations: atomic writes (hashed as they are written), header-only ``.npy`` reads,
fsync'd line appends under a lock, and the removal of temp files a killed run left behind."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from reprlib import Repr
from typing import IO

import numpy as np

BOOKKEEPING_DIR = ".svcprep"  # an output root's records, done-lists and temp files
FAILURE_LOG = "_failures.jsonl"
_REPR = Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 3, 200, 200, 80
OWN_NAMES = frozenset({BOOKKEEPING_DIR, FAILURE_LOG})
_UNSAFE_CHARACTERS = re.compile("[/\\\\\x00-\x1f\x7f\x85\u2028\u2029]")


def plain_name(value: object, what: str) -> str:
    """``value`` as one file or dir name inside an output root, or a :class:`ValueError` saying why not.

    The one rule for names that come from data (a separator's stems, a step's name): text with no path separator,
    control character or line break, not ``.``, ``..`` or empty, not starting with ``.`` or ``~`` (hidden files,
    a home dir), and none of svcprep's own names (``.svcprep``, ``_failures.jsonl``).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} {shown(value)} must be a non-empty name")
    if _UNSAFE_CHARACTERS.search(value) or value.startswith((".", "~")) or value in OWN_NAMES:
        raise ValueError(f"{what} {shown(value)} is not a plain file name (no '/', '\\', leading '.' or '~', "
                         f"control character, or svcprep's own {', '.join(sorted(OWN_NAMES))})")
    if len(value.encode("utf-8")) > 200:
        raise ValueError(f"{what} {shown(value)} is longer than 200 bytes")
    return value


def shown(value: object, limit: int = 60) -> str:
    """A value as a message shows it: its repr, cut to ``limit`` characters (a config value may be megabytes, an
    alias bomb's expansion gigabytes: its repr is never built whole for a container)."""
    if isinstance(value, list | tuple | dict | set) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    if isinstance(value, int) and value.bit_length() > 256:  # its repr may exceed Python's digit limit (an error)
        return f"<an integer of {value.bit_length()} bits>"
    text = _REPR.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _read_umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only be read by setting it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_read_umask()  # what open() would give; mkstemp alone gives 0600


def atomic_write(path: Path, write: Callable[[IO[bytes]], None], temp_dir: Path | None = None) -> str:
    """Write ``path`` through a temp file, fsync and a rename: readers never see a partial file.

    ``temp_dir`` (default: ``path``'s dir) must be on the same filesystem as ``path``. Returns the sha256 of
    the bytes written (read back from the page cache before the rename).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = temp_dir or path.parent
    temp_dir.mkdir(parents=True, exist_ok=True)
    if not same_filesystem(temp_dir, path.parent):  # a rename cannot cross filesystems (a mounted or linked dir)
        temp_dir = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".tmp", dir=temp_dir)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        digest = file_sha256(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


_DEVICES: dict[str, int] = {}


def same_filesystem(a: Path, b: Path) -> bool:
    def device(p: Path) -> int:
        key = str(p)
        if key not in _DEVICES:
            _DEVICES[key] = os.stat(p).st_dev
        return _DEVICES[key]

    return device(a) == device(b)


def atomic_write_text(path: Path, text: str, temp_dir: Path | None = None) -> str:
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), temp_dir)


def file_sha256(path: Path, block_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()


def remove_stale_temp_files(directory: Path, older_than_seconds: float = 600.0) -> int:
    """Delete temp files a killed run left behind (``.<name>.*.tmp``); recent ones may belong to a live shard."""
    removed = 0
    if directory.is_dir():
        cutoff = time.time() - older_than_seconds
        for path in directory.rglob(".*.tmp"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed


def read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file from its header alone (the data is not read)."""
    with open(path, "rb") as f:
        return read_npy_header_from(f)


def read_npy_header_from(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return tuple(shape), dtype


@contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``lock_path`` (concurrent shards append to and compact the same files)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync, so a killed run keeps it. A line cut by a kill has no ``\\n``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_lines(path: Path) -> Iterable[str]:
    """Complete lines only: split on ``\\n`` alone (never on other line separators); a cut last line is dropped."""
    data = path.read_bytes().decode("utf-8", errors="replace")
    lines = data.split("\n")
    return lines[:-1]  # the part after the last "\n" is empty or a line cut by a kill


class GrowingNpy:
    """A ``.npy`` of known final shape written a block at a time along one axis (a file longer than memory):
    the whole file is allocated on disk first (a disk too small fails at once, with nothing written), blocks go
    to their places in the C-order layout, and :meth:`commit` fsyncs, hashes and renames it into place. The bytes
    equal ``np.save`` of the whole array. Until then the file is a temp file that :meth:`abort` removes."""

    def __init__(self, path: Path, temp_dir: Path, shape: tuple[int, ...], dtype: np.dtype | str, axis: int) -> None:
        import io

        self.path, self.shape, self.dtype, self.axis = path, tuple(shape), np.dtype(dtype), axis
        if axis not in (0, 1) or (axis == 1 and len(self.shape) != 2):
            raise ValueError(f"blocks along axis {axis} of a {len(self.shape)}-D array cannot be written in place")
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                      "fortran_order": False, "shape": self.shape})
        self.header_bytes = header.tell()
        path.parent.mkdir(parents=True, exist_ok=True)
        temp_dir.mkdir(parents=True, exist_ok=True)
        if not same_filesystem(temp_dir, path.parent):
            temp_dir = path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".tmp", dir=temp_dir)
        self.tmp, self.fd = Path(tmp), fd
        try:
            os.fchmod(fd, FILE_MODE)
            size = self.header_bytes + int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
            if hasattr(os, "posix_fallocate") and size:
                os.posix_fallocate(fd, 0, size)
            else:
                os.ftruncate(fd, size)
            os.pwrite(fd, header.getvalue(), 0)
        except BaseException:
            self.abort()
            raise

    def write(self, start: int, block: np.ndarray) -> None:
        """``block`` holds entries ``[start, start + n)`` along the axis (the other dims whole)."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        n = block.shape[self.axis]
        rest, final_rest = block.shape[:self.axis] + block.shape[self.axis + 1:], \
            self.shape[:self.axis] + self.shape[self.axis + 1:]
        if start < 0 or start + n > self.shape[self.axis] or rest != final_rest:
            raise ValueError(f"block {block.shape} at {start} does not fit a {self.shape} array along axis {self.axis}")
        item = self.dtype.itemsize
        if self.axis == 0:
            row = item * int(np.prod(self.shape[1:], dtype=np.int64))
            _pwrite_all(self.fd, block.tobytes(), self.header_bytes + start * row)
        else:
            for index in range(self.shape[0]):
                _pwrite_all(self.fd, block[index].tobytes(), self.header_bytes + (index * self.shape[1] + start) * item)

    def commit(self) -> str:
        """fsync, sha256 (read back), rename into place; returns the sha256."""
        try:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            digest = file_sha256(self.tmp)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return digest

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.tmp.unlink(missing_ok=True)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
