"""``--backend ray``: the same run on a Ray cluster (extra ``ray``), with the same files as the local backend.

The run's decode batches (the local backend's, pending work already decided) become a Ray Dataset whose
blocks hold several batches each. Decoding, slicing, resampling and the outputs' CPU work run as CPU tasks;
the model stage runs in an actor pool (one model load per actor, ``gpus_per_worker`` GPUs each), which Ray
restarts a bounded number of times when an actor dies. The driver aligns and writes each result with the
local writer: the same atomic writes, done-lists, records and failure log. Ray is imported only here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from svcprep.errors import ConfigError, SvcprepError
from svcprep.pipeline.decode import DecodeDataset

BATCHES_PER_BLOCK = 16
MAX_ACTOR_RESTARTS = 3
RAY_LOG_DIR = "/tmp/ray/session_latest/logs"  # where Ray keeps its logs, on the head node


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local cluster
    workers: int = 1  # model actors
    gpus_per_worker: float = 0.0
    cpus_per_task: float = 0.5  # decode tasks and actors ask for this much, so that a 2-core node runs both
    num_threads: int = 0  # torch threads in the actors (0: the driver's count)

    def __post_init__(self) -> None:
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
    """Ray actor: loads the model stage once, then runs it on each decoded batch."""

    def __init__(self, stage, num_threads: int) -> None:
        import torch

        torch.set_num_threads(num_threads)  # the local backend's count: identical float reductions
        self.stage = stage
        self.stage.load()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"index": row["index"], "clips": row["clips"], "natives": self.stage.run(row["clips"])}


class RayBackend:
    name = "ray"

    def __init__(self, options: RayOptions) -> None:
        self.options = options

    def batches(self, dataset: DecodeDataset, stage) -> Iterator[tuple[list, dict]]:
        import ray
        import torch

        options = self.options
        if not ray.is_initialized():
            ray.init(address=options.address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        num_blocks = max(1, -(-len(dataset) // BATCHES_PER_BLOCK))
        items = ray.data.from_items([{"index": i} for i in range(len(dataset))], override_num_blocks=num_blocks)
        decoded = items.map(_decode_task(dataset), num_cpus=options.cpus_per_task, max_retries=3)
        if stage.requests:
            threads = options.num_threads or torch.get_num_threads()
            decoded = decoded.map(_Models, fn_constructor_args=(stage, threads), concurrency=options.workers,
                                  num_cpus=options.cpus_per_task, num_gpus=options.gpus_per_worker,
                                  max_restarts=MAX_ACTOR_RESTARTS, max_task_retries=MAX_ACTOR_RESTARTS)
        # Ray Data prints internal stack traces on its console logger; the reason is reported below in one line
        # and the full trace stays in Ray's own log files.
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        try:
            for row in decoded.iter_rows():
                yield row["clips"], row.get("natives", {})
        except ray.exceptions.RayError as exc:  # a task that kept failing, a model that does not load, ...
            raise SvcprepError(f"the Ray backend stopped: {first_line(exc)} (a model actor is restarted at most "
                               f"{MAX_ACTOR_RESTARTS} times; the full trace is in {RAY_LOG_DIR} on the head node); "
                               "files finished so far are kept, rerun to resume") from exc


def first_line(error: BaseException, max_chars: int = 200) -> str:
    """The first non-empty line of an error's message (Ray's run to dozens of lines), at most ``max_chars``."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = lines[0] if lines else type(error).__name__
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"
