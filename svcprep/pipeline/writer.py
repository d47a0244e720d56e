"""Write stage: one background thread saves arrays atomically, then marks the uid done.

A uid enters a done-list only after every one of its files is complete on disk. A write that fails for one
file (a name the filesystem refuses) is recorded as that file's failure; a full or read-only disk, or a failure
to record a failure, stops the thread, and the next :meth:`submit` or :meth:`close` raises
:class:`StorageError` in the run, so a run never reports work it did not save and never waits forever.
"""

from __future__ import annotations

import errno
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svcprep.errors import StorageError
from svcprep.pipeline.provenance import DoneList
from svcprep.pipeline.storage import atomic_save_npy

# The disk itself is unusable: every later write would fail the same way.
FATAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


@dataclass
class WriteJob:
    uid: str
    files: list[tuple[Path, np.ndarray]]
    done_list: DoneList


class BackgroundWriter:
    """A single writer thread; ``on_error(uid, path, reason)`` records a failed write of one file."""

    def __init__(self, on_error: Callable[[str, Path, str], None], temp_dir: Path | None = None,
                 max_pending: int = 64, poll_seconds: float = 0.2) -> None:
        self._queue: queue.Queue[WriteJob | None] = queue.Queue(maxsize=max_pending)
        self._on_error, self._temp_dir, self._poll = on_error, temp_dir, poll_seconds
        self._error: StorageError | None = None
        self.files_written = 0
        self.busy_seconds = 0.0  # time spent writing (for --profile)
        self.submit_seconds = 0.0  # time the run waited to hand a job over (queue full)
        self._thread = threading.Thread(target=self._run, name="svcprep-writer", daemon=True)
        self._thread.start()

    def submit(self, job: WriteJob | None) -> None:
        started = time.perf_counter()
        try:
            while True:
                self._raise_if_failed()
                try:
                    self._queue.put(job, timeout=self._poll)
                    return
                except queue.Full:
                    continue
        finally:
            self.submit_seconds += time.perf_counter() - started

    def close(self) -> None:
        """Write what is queued, stop the thread; raises :class:`StorageError` if the writer failed."""
        if self._thread.is_alive():
            try:
                self.submit(None)
            except StorageError:
                pass
            self._thread.join()
        if self._error is not None:
            raise self._error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive():
            raise StorageError("the writer thread stopped unexpectedly; rerun the same command to resume")

    def _run(self) -> None:
        job: WriteJob | None = None
        try:
            while (job := self._queue.get()) is not None:
                started = time.perf_counter()
                try:
                    for path, array in job.files:
                        atomic_save_npy(path, array, self._temp_dir)
                    job.done_list.append(job.uid)
                    self.files_written += len(job.files)
                except OSError as exc:
                    if exc.errno in FATAL_ERRNOS:
                        raise
                    self._on_error(job.uid, job.files[0][0], f"write failed: {exc}")
                finally:
                    self.busy_seconds += time.perf_counter() - started
        except BaseException as exc:  # noqa: BLE001 - any failure here must reach the run, not vanish
            where = f" writing {job.files[0][0]}" if job is not None and job.files else ""
            self._error = StorageError(
                f"output failed{where}: {exc}; files finished before it are kept and recorded, "
                "fix the cause (e.g. free disk space) and rerun the same command to resume")
            self._error.__cause__ = exc
            # Let a producer blocked on a full queue see the error.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
