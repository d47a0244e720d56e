"""Write stage: one background thread saves arrays atomically, then marks the uid done."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svcprep.provenance import DoneList
from svcprep.storage import atomic_save_npy


@dataclass
class WriteJob:
    uid: str
    files: list[tuple[Path, np.ndarray]]
    done_list: DoneList


class BackgroundWriter:
    """A single writer thread; ``on_error(uid, path, reason)`` is called for a failed write."""

    def __init__(self, on_error: Callable[[str, Path, str], None], max_pending: int = 64) -> None:
        self._queue: queue.Queue[WriteJob | None] = queue.Queue(maxsize=max_pending)
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="svcprep-writer", daemon=True)
        self._thread.start()

    def submit(self, job: WriteJob) -> None:
        self._queue.put(job)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                for path, array in job.files:
                    atomic_save_npy(path, array)
                job.done_list.append(job.uid)
            except OSError as exc:
                self._on_error(job.uid, job.files[0][0], f"write failed: {exc}")
