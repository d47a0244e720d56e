"""One model call on a batch of clips, with the recovery rules both backends share.

A batch that fails runs clip by clip, so only the bad clip is lost; a batch out of GPU memory is halved and
retried (a single clip retries with smaller model sub-batches). A frame count that differs from the model's
config stops the run (:class:`FrameCountError`): every file would be wrong.
"""

from __future__ import annotations

import logging

import numpy as np

from svcprep.errors import FrameCountError, SvcprepError

log = logging.getLogger("svcprep")
SMALLEST_SUB_BATCH_SECONDS = 30


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def extract_clips(extractor, waves: list[np.ndarray]) -> list[np.ndarray | str]:
    """Features per clip, or the reason (text) that clip failed."""
    if not waves:
        return []
    try:
        return list(extractor.extract(waves))
    except FrameCountError:
        raise
    except (SvcprepError, RuntimeError, ValueError) as error:
        if is_out_of_memory(error):
            return _in_halves(extractor, waves, error)
        if len(waves) == 1:
            return [f"{type(error).__name__}: {error}"]
    results: list[np.ndarray | str] = []
    for wav in waves:
        results += extract_clips(extractor, [wav])
    return results


def _in_halves(extractor, waves: list[np.ndarray], error: BaseException) -> list[np.ndarray | str]:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if len(waves) > 1:
        half = len(waves) // 2
        return extract_clips(extractor, waves[:half]) + extract_clips(extractor, waves[half:])
    smallest = SMALLEST_SUB_BATCH_SECONDS * extractor.spec.sample_rate
    if extractor.max_batch_samples > smallest:
        extractor.max_batch_samples = max(smallest, extractor.max_batch_samples // 2)
        log.warning("out of GPU memory; %s now runs at most %d samples per forward", extractor.spec.name,
                    extractor.max_batch_samples)
        return extract_clips(extractor, waves)
    return [f"out of GPU memory even alone: {error}"]
