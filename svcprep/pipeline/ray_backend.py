"""``--backend ray``: the same run on a Ray cluster (extra ``ray``), with the same files as the local backend.

The corpus batches (exactly the local backend's, from :func:`make_batches`) become a Ray Dataset. Decoding,
resampling, mels, energy and pitch run as CPU tasks; the extractors run in an actor pool (one model load per
actor, ``gpus_per_worker`` GPUs each), which Ray restarts and retries when an actor dies. The driver aligns and
writes each result with the local backend's writer: the same atomic writes, done-lists, provenance and failure
records, so a rerun resumes whichever backend made the files. Ray is imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from svcprep.errors import SvcprepError
from svcprep.pipeline.decode import DecodeDataset, DecodedClip


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local cluster
    workers: int = 1  # model actors
    gpus_per_worker: float = 0.0
    cpus_per_task: float = 0.5  # decode tasks and actors ask for this much, so that a 2-core node runs both

    def __post_init__(self) -> None:
        from svcprep.errors import ConfigError

        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"must be a positive integer, got {self.workers!r}", "workers")
        if not 0 <= self.gpus_per_worker:
            raise ConfigError(f"must be >= 0, got {self.gpus_per_worker!r}", "gpus_per_worker")


def _decode_task(dataset: DecodeDataset):
    """Ray task body: item ``{"index": i}`` → batch i decoded (the local decode stage, unchanged)."""

    def decode(row: dict[str, Any]) -> dict[str, Any]:
        return {"index": row["index"], "clips": dataset[row["index"]]}

    return decode


class _Models:
    """Ray actor: loads every extractor once, then extracts each decoded batch (natives, or errors per clip)."""

    def __init__(self, resolved_extractors: list, num_threads: int) -> None:
        import torch

        torch.set_num_threads(num_threads)  # the local backend's count: identical float reductions
        self.extractors = [resolved.load() for resolved in resolved_extractors]

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        from svcprep.pipeline.extraction import extract_clips

        clips: list[DecodedClip] = row["clips"]
        natives = []
        for extractor in self.extractors:
            spec = extractor.spec
            good = [c for c in clips if not c.error and spec.num_frames(len(c.audio[(spec.sample_rate,
                                                                                      spec.channels)])) >= 1]
            results = extract_clips(extractor, [c.audio[(spec.sample_rate, spec.channels)] for c in good])
            natives.append(dict(zip([c.uid for c in good], results, strict=True)))
        return {"index": row["index"], "clips": clips, "natives": natives}


def ray_batches(dataset: DecodeDataset, resolved_extractors: list, options: RayOptions,
                num_threads: int) -> Iterator[tuple[list[DecodedClip], list[dict[str, Any]]]]:
    """Yield ``(decoded clips, per-extractor {uid: native features or error text})`` per batch, in order."""
    import ray

    if not ray.is_initialized():
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 configure_logging=True)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    items = ray.data.from_items([{"index": i} for i in range(len(dataset))], override_num_blocks=max(1, len(dataset)))
    decoded = items.map(_decode_task(dataset), num_cpus=options.cpus_per_task, max_retries=3)
    if resolved_extractors:
        decoded = decoded.map(_Models, fn_constructor_args=(resolved_extractors, num_threads),
                              concurrency=options.workers, num_cpus=options.cpus_per_task,
                              num_gpus=options.gpus_per_worker, max_restarts=-1, max_task_retries=-1)
    try:
        for row in decoded.iter_rows():
            yield row["clips"], row.get("natives", [])
    except ray.exceptions.RayError as exc:  # a task that kept failing, a model that does not load, ...
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SvcprepError(f"the Ray backend stopped: {reason}; files finished so far are kept, rerun to "
                           "resume") from exc
