"""Write stage: one background thread stores an output's files atomically, then marks the uid done.

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
from typing import Any

from svcprep.errors import StorageError
from svcprep.ids import EntryId
from svcprep.outputs.records import DoneEntry, FileRecord
from svcprep.store.bookkeeping import DoneList, SettingsChangedError
from svcprep.store.sink import Sink

# The disk itself is unusable: every later write would fail the same way.
FATAL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


@dataclass
class WriteJob:
    """Every file of one output of one uid, and the done-list that marks them complete."""

    id: EntryId
    sink: Sink
    files: list[tuple[FileRecord, Any]]
    done_list: DoneList
    output: str = ""
    source: str | None = None  # the stamp of the source file (a changed source is redone)


class BackgroundWriter:
    """A single writer thread; ``on_error(job, reason)`` records a failed write of one output of one uid."""

    def __init__(self, on_error: Callable[[WriteJob, str], None], max_pending: int = 64,
                 poll_seconds: float = 0.2) -> None:
        self._queue: queue.Queue[WriteJob | None] = queue.Queue(maxsize=max_pending)
        self._on_error, self._poll = on_error, poll_seconds
        self._error: StorageError | None = None
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
                    hashes = {file.name: job.sink.write(file, job.id, value) for file, value in job.files}
                    job.done_list.append(DoneEntry(str(job.id), hashes, job.source))
                except SettingsChangedError:
                    raise
                except OSError as exc:
                    if exc.errno in FATAL_ERRNOS:
                        raise
                    self._on_error(job, f"write failed: {exc}")
                except (StorageError, ValueError, RuntimeError) as exc:  # a value its codec cannot store
                    self._on_error(job, f"write failed: {exc}")
                finally:
                    self.busy_seconds += time.perf_counter() - started
        except BaseException as exc:  # noqa: BLE001 - any failure here must reach the run, not vanish
            where = f" writing {job.sink.describe(job.files[0][0], job.id)}" if job is not None and job.files else ""
            self._error = exc if isinstance(exc, SettingsChangedError) else StorageError(
                f"output failed{where}: {exc}; files finished before it are kept and recorded, "
                "fix the cause (e.g. free disk space) and rerun the same command to resume")
            self._error.__cause__ = exc
            # Let a producer blocked on a full queue see the error.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
