"""Batch size and decode workers that fit the device, unless the user set them.

CPU: one file per model call (batching does not speed a CPU forward up, and a padded batch multiplies the
activation memory: HuBERT-base on a 120 s batch peaks near 5 GB) and the decode in the main process, so the model
has every core and nothing is oversubscribed; a run without a model (mel, pitch) decodes in ``cores - 1`` workers.
GPU: decode workers on the CPU cores, and batches as large as the free GPU memory allows, from the model's
measured peak memory per second of audio (one probe batch per extractor).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from svcprep.errors import ConfigError

PROBE_SECONDS = 30.0  # one full Whisper window; chunked models reach their chunk size
MEMORY_SHARE = 0.5  # of the free memory after the models are loaded: room for fragmentation and long files
MIN_GPU_BATCH_SECONDS, MAX_GPU_BATCH_SECONDS = 10.0, 1200.0


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_num_workers(on_gpu: bool, has_models: bool) -> int:
    cores = available_cores()
    if on_gpu:
        return max(1, min(8, cores - 1))
    return 0 if has_models else max(0, min(8, cores - 1))


def gpu_batch_seconds(extractors: Sequence, device) -> float:
    """Seconds of audio per batch such that the hungriest extractor's peak fits in a share of free memory."""
    import numpy as np
    import torch

    per_second = 0.0
    for extractor in extractors:
        spec = extractor.spec
        num_samples = int(PROBE_SECONDS * spec.sample_rate)
        shape = (num_samples,) if spec.channels == 1 else (num_samples, spec.channels)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        extractor.extract([np.zeros(shape, np.float32)])
        torch.cuda.synchronize(device)
        per_second = max(per_second, (torch.cuda.max_memory_allocated(device) - before) / PROBE_SECONDS)
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info(device)
    if per_second <= 0:
        return MAX_GPU_BATCH_SECONDS
    return float(min(MAX_GPU_BATCH_SECONDS, max(MIN_GPU_BATCH_SECONDS, MEMORY_SHARE * free / per_second)))


def check_device(device: str) -> None:
    """A CUDA device that torch cannot use is a usage error (one line, exit 2), before any model loads."""
    if device.startswith("cuda"):
        import torch  # lazy: torch only when a GPU is asked for

        if not torch.cuda.is_available():
            raise ConfigError(f"{device!r} requested but torch sees no usable CUDA GPU; use --device cpu", "device")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{device!r}: only {torch.cuda.device_count()} GPU(s) visible", "device")
