"""Where the stages run. Both backends take the same decode dataset (batches of :class:`WorkItem`, with what is
pending already decided by the run) and the same :class:`~svcprep.pipeline.models.ModelStage`, and yield
``(decoded clips, model outputs)`` per batch; the run aligns and writes them.

``local``: decode in DataLoader worker processes (or in-process), models in the main process. A decode worker
that dies (OOM killer, a crash in a codec) costs no file: its batch is decoded again in the main process and
the remaining batches go to a fresh worker pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from svcprep.pipeline.decode import DecodeDataset, collate_clip_list, in_chunks
from svcprep.pipeline.ray_backend import RayBackend
from svcprep.pipeline.workers import WorkerDeaths, decode_worker_init

log = logging.getLogger("svcprep")
MAX_WORKER_RESTARTS = 3
MIN_CHUNK_SECONDS = 60.0  # of decoded audio per model call group (a batch is never split below it)


class LocalBackend:
    name = "local"

    def __init__(self, num_workers: int) -> None:
        self.num_workers = num_workers

    def batches(self, dataset: DecodeDataset, stage) -> Iterator[tuple[list, dict]]:
        chunk_seconds = max(stage.batch_seconds or 0.0, MIN_CHUNK_SECONDS)
        for clips in self._decoded(dataset):
            for chunk in in_chunks(clips, chunk_seconds):  # a sliced take: its pieces a group at a time
                yield chunk, stage.run(chunk)

    def _decoded(self, dataset: DecodeDataset) -> Iterator[list]:
        if self.num_workers <= 0:
            yield from (dataset[i] for i in range(len(dataset)))
            return
        import torch

        with WorkerDeaths() as deaths:
            yield from self._loaded(dataset, torch, deaths)

    def _loaded(self, dataset: DecodeDataset, torch: Any, deaths: WorkerDeaths) -> Iterator[list]:
        start, restarts = 0, 0
        while start < len(dataset):
            indices = list(range(start, len(dataset)))
            loader = torch.utils.data.DataLoader(
                torch.utils.data.Subset(dataset, indices), batch_size=None, shuffle=False, collate_fn=collate_clip_list,
                num_workers=min(self.num_workers, len(indices)), prefetch_factor=2,
                worker_init_fn=decode_worker_init)
            try:
                batches = iter(loader)
                while True:
                    try:
                        clips = deaths.next(batches)
                    except StopIteration:
                        return
                    start += 1
                    yield clips
            except RuntimeError as exc:
                if "DataLoader worker" not in str(exc):
                    raise
                restarts += 1
                log.warning("a decode worker died (%s); batch %d is decoded in the main process", exc, start)
                yield dataset[start]
                start += 1
                if restarts >= MAX_WORKER_RESTARTS:
                    log.warning("decode workers died %d times; the rest is decoded in the main process", restarts)
                    yield from (dataset[i] for i in range(start, len(dataset)))
                    return


def make_backend(options: Any, num_workers: int):
    """``options``: ``None`` (local) or :class:`~svcprep.pipeline.ray_backend.RayOptions`."""
    if options is None:
        return LocalBackend(num_workers)

    return RayBackend(options)
