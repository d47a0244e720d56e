"""Output files: atomic writes, header-only shape reads, and the failure log."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np


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


def atomic_write(path: Path, write: Callable[[IO[bytes]], None], temp_dir: Path | None = None) -> None:
    """Write ``path`` through a temp file, fsync and a rename: readers never see a partial file.

    ``temp_dir`` (default: ``path``'s dir) must be on the same filesystem as ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = temp_dir or path.parent
    temp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=temp_dir)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save_npy(path: Path, array: np.ndarray, temp_dir: Path | None = None) -> None:
    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False), temp_dir)


def atomic_write_text(path: Path, text: str, temp_dir: Path | None = None) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")), temp_dir)


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


def read_npy_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file from its header alone (the data is not read)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    return tuple(shape), dtype


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync, so a killed run keeps it. A line cut by a kill has no ``\\n``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="ascii") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_lines(path: Path) -> Iterable[str]:
    """Complete lines only: split on ``\\n`` alone (never on other line separators); a cut last line is dropped."""
    data = path.read_bytes().decode("ascii", errors="replace")
    lines = data.split("\n")
    return lines[:-1]  # the part after the last "\n" is empty or a line cut by a kill


class FailureLog:
    """``_failures.jsonl``: one record per (uid, stage, output), the latest reason winning.

    Records are appended as they happen (a killed run keeps them); :meth:`compact` rewrites the file with
    duplicates folded and the records of uids that have since succeeded removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @staticmethod
    def _key(record: dict[str, Any]) -> tuple:
        return record.get("uid"), record.get("stage"), record.get("feature")

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            append_line(self.path, json.dumps(record, ensure_ascii=True))

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        latest: dict[tuple, dict[str, Any]] = {}
        for line in read_lines(self.path):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                latest.pop(self._key(record), None)  # re-insert: order follows the latest occurrence
                latest[self._key(record)] = record
        return list(latest.values())

    def compact(self, succeeded: Callable[[dict[str, Any]], bool]) -> None:
        """Keep the latest record per key, dropping those for which ``succeeded(record)`` is true."""
        with self._lock:
            if not self.path.is_file():
                return
            kept = [r for r in self.records() if not succeeded(r)]
            if not kept:
                self.path.unlink()
                return
            atomic_write_text(self.path, "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in kept))
