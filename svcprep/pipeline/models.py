"""The model stage: every model a run needs (content extractors and neural pitch trackers), run on decoded
clips in batches, with the rules both backends share, in one place: which clips a model still has to see (the
done filter decided by the run), the too-short-for-the-receptive-field rule, sub-batches of at most
``batch_seconds``, a failing batch retried clip by clip, and a batch out of GPU memory halved and retried.

A frame count that differs from the model's config stops the run (:class:`FrameCountError`): every file would be
wrong.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from svcprep.errors import FrameCountError, SvcprepError

log = logging.getLogger("svcprep")
SMALLEST_SUB_BATCH_SECONDS = 30


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def too_short(spec, num_samples: int, sample_rate: int) -> str | None:
    """The reason a clip gives no frame of ``spec``, or ``None``."""
    if spec.num_frames(num_samples) >= 1:
        return None
    field_ms = 1000 * spec.receptive_field / spec.sample_rate
    return (f"{1000 * num_samples / sample_rate:.1f} ms of audio is shorter than {spec.name}'s receptive field "
            f"({field_ms:.1f} ms)")


def extract_clips(model, waves: list[np.ndarray]) -> list[np.ndarray | str]:
    """Outputs per clip, or the reason (text) that clip failed."""
    if not waves:
        return []
    try:
        return list(model.extract(waves))
    except FrameCountError:
        raise
    except (SvcprepError, RuntimeError, ValueError) as error:
        if is_out_of_memory(error):
            return _in_halves(model, waves, error)
        if len(waves) == 1:
            return [f"{type(error).__name__}: {error}"]
    results: list[np.ndarray | str] = []
    for wav in waves:
        results += extract_clips(model, [wav])
    return results


def _in_halves(model, waves: list[np.ndarray], error: BaseException) -> list[np.ndarray | str]:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if len(waves) > 1:
        half = len(waves) // 2
        return extract_clips(model, waves[:half]) + extract_clips(model, waves[half:])
    smallest = SMALLEST_SUB_BATCH_SECONDS * model.spec.sample_rate
    if model.max_batch_samples > smallest:
        model.max_batch_samples = max(smallest, model.max_batch_samples // 2)
        log.warning("out of GPU memory; %s now runs at most %d samples per forward", model.spec.name,
                    model.max_batch_samples)
        return extract_clips(model, waves)
    return [f"out of GPU memory even alone: {error}"]


def sub_batches(lengths: list[int], sample_rate: int, batch_seconds: float) -> list[list[int]]:
    """Indices in groups of at most ``batch_seconds`` of audio (longest first; 0: one clip per group)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    limit = batch_seconds * sample_rate
    for i in order:
        if current and total + lengths[i] > limit:
            groups.append(current)
            current, total = [], 0
        current.append(i)
        total += lengths[i]
    if current:
        groups.append(current)
    return groups


class ModelStage:
    """The run's model requests (``key -> ModelRequest``) and which outputs consume each."""

    def __init__(self, requests: dict[tuple, Any], consumers: dict[tuple, tuple[str, ...]],
                 batch_seconds: float = 0.0) -> None:
        self.requests, self.consumers, self.batch_seconds = requests, consumers, batch_seconds
        self.models: dict[Any, Any] = {}
        self.model_seconds = 0.0

    def load(self) -> None:
        """Load each distinct model once (requests of the same model on other audio share it)."""
        for request in self.requests.values():
            key = request.resolved.model_key
            if key not in self.models:
                self.models[key] = request.resolved.load()

    def loaded(self) -> list[Any]:
        return list(self.models.values())

    def run(self, clips: list) -> dict[tuple, dict[str, np.ndarray | str]]:
        """Per request key: ``{uid: native output}``, or the reason text for a clip that failed."""
        results: dict[tuple, dict[str, np.ndarray | str]] = {}
        for key, request in self.requests.items():
            model = self.models[request.resolved.model_key]
            consumers = self.consumers[key]
            todo, out = [], {}
            for clip in clips:
                if clip.error or request.audio not in clip.model_audio or \
                        not any(name in clip.pending and name not in clip.output_errors for name in consumers):
                    continue  # nothing for this model to do (its audio could not be made: its outputs failed)
                wav = clip.model_audio[request.audio]
                reason = too_short(request.spec, len(wav), request.audio.sample_rate)
                if reason:
                    out[clip.uid] = reason
                else:
                    todo.append((clip.uid, wav))
            started = time.monotonic()
            try:
                for group in sub_batches([len(w) for _, w in todo], request.audio.sample_rate, self.batch_seconds):
                    natives = extract_clips(model, [todo[i][1] for i in group])
                    for i, native in zip(group, natives, strict=True):
                        out[todo[i][0]] = native
            finally:
                self.model_seconds += time.monotonic() - started
            results[key] = out
        return results
