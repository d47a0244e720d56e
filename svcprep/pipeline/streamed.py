"""Long files, a window at a time: a file longer than the run's ``stream_seconds`` whose pending outputs can all be
computed in windows (:meth:`Output.row_stream`) is read as a stream, and each output's files grow on disk in
place (allocated whole first, so a disk too small fails at once), then move into place and enter the done-list.
Memory stays that of one window, whatever the file's length; the progress bar moves within the file.

An output that cannot be windowed (a view of the whole clip such as trimming or peak normalisation, a neural F0
tracker, a file format written whole) keeps the file on the whole-file path.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from svcprep.errors import StorageError
from svcprep.outputs.records import DoneEntry
from svcprep.outputs.windows import StreamSource
from svcprep.pipeline.decode import CLIP_ERRORS, WorkItem
from svcprep.pipeline.writer import FATAL_ERRNOS


@dataclass
class _Open:
    """One output of the file being streamed: its row stream, its growing files, how far it got."""

    planned: Any
    stream: Any
    files: dict[str, Any] = field(default_factory=dict)
    rows_done: int = 0
    failed: str | None = None


def can_stream(item: WorkItem, seconds: float, stream_seconds: float | None,
               outputs: list[tuple[Any, Any]]) -> bool:
    """Whether ``item`` goes through the windowed path: a whole corpus file, longer than ``stream_seconds``, whose
    every pending output can be windowed (``outputs``: (output, its loaded model or ``None``))."""
    if stream_seconds is None or item.made is not None or item.done_pieces is not None or seconds <= stream_seconds:
        return False
    return all(output.can_stream(model) for output, model in outputs)


class StreamedFiles:
    """Streams long files one at a time in this process, with the run's loaded models."""

    def __init__(self, by_key: dict[str, Any], models: dict[Any, Any], fail: Callable[..., None],
                 stamp: Callable[[str], str | None], whole_uids: Callable[[int], bool]) -> None:
        self.by_key, self.models, self.fail, self.stamp, self.whole_uids = by_key, models, fail, stamp, whole_uids

    def model_of(self, output: Any) -> Any:
        return self.models.get(output.model.resolved.model_key) if output.model is not None else None

    def wants(self, item: WorkItem, seconds: float, stream_seconds: float | None) -> bool:
        return can_stream(item, seconds, stream_seconds,
                          [(self.by_key[k].output, self.model_of(self.by_key[k].output)) for k in item.pending])

    def run(self, item: WorkItem, progress: Callable[[float], None]) -> None:
        entry = item.entry
        uid, source = entry.uid, StreamSource(entry.path, dict(item.frames))
        opened: list[_Open] = []
        for key in sorted(item.pending, key=lambda k: len(self.by_key[k].depends_on)):
            p = self.by_key[key]
            model = self.model_of(p.output)
            try:
                opened.append(_Open(p, p.output.row_stream(source, model)))
            except CLIP_ERRORS as exc:
                self._fail_output(uid, entry.path, p, p.output.stage, str(exc) or type(exc).__name__)
        try:
            self._stream(uid, entry.path, opened, progress)
        except BaseException:
            for o in opened:
                for growing in o.files.values():
                    growing.abort()
            raise

    def _stream(self, uid: str, path: Any, opened: list[_Open], progress: Callable[[float], None]) -> None:
        id = opened[0].planned.tree.id_of(uid) if opened else None
        for o in opened:
            records = {f.name: f for f in o.planned.record.files}
            for name, shape in o.stream.files.items():
                o.files[name] = self._grow(o.planned.tree.sink, records[name], id, shape)
        active, seconds_done = list(opened), 0.0
        while active:
            for o in list(active):
                try:
                    blocks = next(o.stream.blocks, None)
                    if blocks is not None:
                        self._write(o, blocks)
                except CLIP_ERRORS as exc:
                    if isinstance(exc, OSError) and exc.errno in FATAL_ERRNOS:
                        raise _storage_error(exc, o.planned.tree.sink.describe(o.planned.record.files[0], id)) \
                            from exc
                    o.failed = str(exc) or type(exc).__name__
                    blocks = None
                if blocks is None:
                    active.remove(o)
            done = min((o.rows_done * o.stream.seconds_per_row for o in active), default=None)
            if done is not None and done > seconds_done:
                progress(done - seconds_done)
                seconds_done = done
        self._finish(uid, path, id, opened)

    @staticmethod
    def _grow(sink: Any, record: Any, id: Any, shape: Any) -> Any:
        try:
            return sink.grow(record, id, shape.shape, shape.dtype, shape.axis)
        except OSError as exc:
            if exc.errno in FATAL_ERRNOS:
                raise _storage_error(exc, sink.describe(record, id)) from exc
            raise

    @staticmethod
    def _write(o: _Open, blocks: dict[str, tuple[int, np.ndarray]]) -> None:
        for name, (start, rows) in blocks.items():
            if np.issubdtype(rows.dtype, np.floating) and not np.isfinite(rows).all():
                raise ValueError(f"{name}: NaN or infinite values (the input is out of range for this computation)")
            o.files[name].write(start, rows)
        first = next(iter(blocks.values()))
        o.rows_done = first[0] + first[1].shape[o.stream.files[next(iter(blocks))].axis]

    def _finish(self, uid: str, path: Any, id: Any, opened: list[_Open]) -> None:
        """Commit every output that finished (a recipe whose tree takes an utterance whole: all of them or none);
        record the others."""
        lost_by_recipe: dict[int, list[str]] = {}
        for o in opened:
            if o.failed is not None:
                lost_by_recipe.setdefault(o.planned.recipe_index, []).append(o.planned.output.name)
        for o in opened:
            p = o.planned
            lost = lost_by_recipe.get(p.recipe_index, [])
            if o.failed is None and lost and self.whole_uids(p.recipe_index):
                o.failed = f"not written: {', '.join(sorted(lost))} failed for this clip, and this project's tree " \
                           "takes an utterance whole"
            if o.failed is not None:
                for growing in o.files.values():
                    growing.abort()
                self._fail_output(uid, path, p, p.output.stage, o.failed)
                continue
            hashes = {name: growing.commit() for name, growing in o.files.items()}
            p.done_list.append(DoneEntry(uid, hashes, self.stamp(uid)))

    def _fail_output(self, uid: str, path: Any, p: Any, stage: str, reason: str) -> None:
        self.fail(uid, path, stage, reason, [p.tree], p.output.name)


def _storage_error(exc: OSError, where: str) -> StorageError:
    what = "the output disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else f"cannot write ({exc})"
    return StorageError(f"{what}: {where} does not fit; nothing of it is kept and files finished before it are "
                        "recorded; free space (or choose another --out) and rerun the same command to resume")
