"""A loaded separator: ``separate(mix)`` for one track in memory, :meth:`Separator.stream` for tracks of any
length fed block by block, chunks of several tracks batched on the model device."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svcprep.errors import AudioLoadError, ConfigError
from svcprep.extractors.base import resolve_device
from svcprep.fileio import shown
from svcprep.separation.chunking import Chunk, ChunkRule, TrackDemix
from svcprep.separation.loading import load_network
from svcprep.separation.msst_config import LIMITS, SeparatorConfig, separator_config
from svcprep.separation.roformer import Roformer
from svcprep.separation.stems import RESIDUAL, TRACK_ERRORS, Normalization

PRECISIONS = {"float32": None, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class TrackJob:
    """One track going through the separator: its demixer, where its output goes, its normalisation."""

    key: Any
    demix: TrackDemix
    sink: Callable[[np.ndarray], None]
    norm: Normalization | None = None
    drained: bool = False  # every input block was pushed


class Separator:
    """A Music-Source-Separation-Training RoFormer on a device, with the published chunking."""

    def __init__(self, network: Roformer, config: SeparatorConfig, device: torch.device, num_overlap: int | None,
                 batch_size: int | None, precision: str = "float32", name: str = "") -> None:
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}", "precision")
        self.config, self.device, self.name = config, device, name
        self.network = network.to(device)
        self.rule = ChunkRule(config.chunk_size, num_overlap or config.num_overlap)
        if self.rule.step < 1:
            raise ConfigError(f"num_overlap {self.rule.num_overlap} leaves no step in a chunk of "
                              f"{config.chunk_size} samples", "num_overlap")
        self.batch_size = batch_size or config.batch_size
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}", "batch_size")
        self.precision = precision

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def channels(self) -> int:
        return self.config.num_channels

    @property
    def stems(self) -> tuple[str, ...]:
        return self.config.stems

    @property
    def target(self) -> str:
        return self.config.target

    @property
    def min_samples(self) -> int:
        """The shortest mix the network's STFT accepts (its reflect padding needs more than n_fft // 2 samples)."""
        return self.config.shape.stft_n_fft // 2 + 1

    # -- the network -----------------------------------------------------------------------------------
    def _autocast(self):
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def run_chunks(self, audio: np.ndarray) -> np.ndarray:
        """``(batch, channels, C)`` → ``(batch, stems, channels, C)`` float32."""
        with torch.inference_mode(), self._autocast():
            out = self.network(torch.from_numpy(audio).to(self.device))
        return out.float().cpu().numpy()

    # -- tracks ----------------------------------------------------------------------------------------
    def as_model_channels(self, mix: np.ndarray) -> np.ndarray:
        """``(channels, samples)`` with the channels the model reads: mono duplicated to stereo (as the published
        inference does), more channels than the model reads averaged (mono models) or cut to the first two."""
        mix = np.asarray(mix, dtype=np.float32)
        if mix.ndim == 1:
            mix = mix[None]
        if mix.ndim != 2:
            raise ValueError(f"a mix is (channels, samples), got shape {mix.shape}")
        if mix.shape[0] == self.channels:
            return mix
        if self.channels == 1:
            return mix.mean(axis=0, keepdims=True)
        if mix.shape[0] == 1:
            return np.repeat(mix, self.channels, axis=0)
        return mix[: self.channels]

    def check_mix(self, mix: np.ndarray, what: str = "the mix") -> None:
        if mix.shape[-1] < self.min_samples:
            raise AudioLoadError(f"{what} has {mix.shape[-1]} samples; the separator's STFT needs at least "
                                 f"{self.min_samples} at {self.sample_rate} Hz")
        if not np.isfinite(mix).all():
            raise AudioLoadError(f"{what} holds NaN or infinite samples")

    def separate(self, mix: np.ndarray, residual: bool = False) -> dict[str, np.ndarray]:
        """Every stem the config targets, ``(channels, samples)`` float32 at :attr:`sample_rate` (``mix`` at that
        rate, ``(channels, samples)``); with ``residual``, also ``"residual"``: the mix minus the target stem."""
        return self.separate_many([mix], residual=residual)[0]

    def separate_many(self, mixes: list[np.ndarray], residual: bool = False) -> list[dict[str, np.ndarray]]:
        """:meth:`separate` of several tracks, their chunks batched together."""
        mixes = [self.as_model_channels(m) for m in mixes]
        for index, mix in enumerate(mixes):
            self.check_mix(mix, f"mix {index}" if len(mixes) > 1 else "the mix")
        parts: list[list[np.ndarray]] = [[] for _ in mixes]

        def inputs() -> Iterator[tuple[int, Iterable[np.ndarray], Normalization | None]]:
            for index, mix in enumerate(mixes):
                yield index, [mix], Normalization.of(mix) if self.config.normalize else None

        self.stream(inputs(), lambda key: parts[key].append)
        results = []
        for mix, pieces in zip(mixes, parts, strict=True):
            out = np.concatenate(pieces, axis=-1)
            stems = {name: out[i] for i, name in enumerate(self.stems)}
            if residual:
                stems[RESIDUAL] = mix - stems[self.target]
            results.append(stems)
        return results

    def stream(self, tracks: Iterable[tuple[Any, Iterable[np.ndarray], Normalization | None]],
               sink_of: Callable[[Any], Callable[[np.ndarray], None]],
               on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[Any, Exception], None] | None = None) -> None:
        """Separate tracks given as ``(key, blocks, normalization)``: ``blocks`` yields ``(channels, n)`` arrays at
        the model rate, with the model's channels; each track's output goes, in order and block by block, to
        ``sink_of(key)`` as ``(stems, channels, n)``; ``on_done(key)`` once a track's output is complete. A track
        whose blocks raise one of :data:`TRACK_ERRORS` goes to ``on_error(key, exc)`` (its chunks are dropped, the
        others go on). Chunks of consecutive tracks share batches; at most one batch of chunks (and one chunk of
        input and output per track in flight) is held at a time."""
        tracks = iter(tracks)
        active: list[tuple[TrackJob, Iterator[np.ndarray]]] = []
        queue: list[tuple[TrackJob, Chunk]] = []
        exhausted = False
        while True:
            while not exhausted and len(queue) < self.batch_size:
                if not active or active[-1][0].drained:
                    nxt = next(tracks, None)
                    if nxt is None:
                        exhausted = True
                        break
                    key, blocks, norm = nxt
                    job = TrackJob(key, TrackDemix(self.rule, self.channels, len(self.stems)), sink_of(key), norm)
                    active.append((job, iter(blocks)))
                job, blocks = active[-1]
                try:
                    block = next(blocks, None)
                    if block is None:
                        job.demix.finish()
                        job.drained = True
                    else:
                        if job.norm is not None:
                            block = (block - job.norm.mean) / job.norm.std
                        job.demix.push(block)
                except TRACK_ERRORS as exc:
                    if on_error is None:
                        raise
                    active.pop()
                    queue = [(j, c) for j, c in queue if j is not job]
                    on_error(job.key, exc)
                    continue
                queue += [(job, chunk) for chunk in job.demix.ready()]
            if not queue:
                break
            batch, queue = queue[: self.batch_size], queue[self.batch_size:]
            outputs = self.run_chunks(np.stack([chunk.audio for _, chunk in batch]))
            for (job, chunk), output in zip(batch, outputs, strict=True):
                job.demix.add(chunk, output)
                out = job.demix.take_output()
                if out.shape[-1]:
                    job.sink(out * job.norm.std + job.norm.mean if job.norm is not None else out)
            finished = [(job, blocks) for job, blocks in active if job.demix.done]
            for job, blocks in finished:
                active.remove((job, blocks))
                if on_done is not None:
                    on_done(job.key)


def load_separator(checkpoint: str | Path, config: str | Path | None = None, device: str = "auto",
                   num_overlap: int | None = None, batch_size: int | None = None, precision: str = "float32",
                   architecture: str | None = None) -> Separator:
    """A Music-Source-Separation-Training BS-RoFormer or Mel-Band RoFormer from its ``.ckpt`` and YAML (default:
    the ``.yaml`` beside the checkpoint, same stem). ``num_overlap`` / ``batch_size``: the config's ``inference``
    values unless given; ``precision`` ``float16`` / ``bfloat16`` runs the network under autocast."""
    checkpoint = Path(checkpoint)
    config_path = Path(config) if config is not None else checkpoint.with_suffix(".yaml")
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: no separator config; give the YAML published with {checkpoint.name}",
                          "config")
    for name, value in (("num_overlap", num_overlap), ("batch_size", batch_size)):
        low, high = LIMITS[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            raise ConfigError(f"must be an integer in [{low}, {high}], got {shown(value)}", name)
    parsed = separator_config(config_path, architecture)
    network = load_network(checkpoint, parsed, config_path)
    return Separator(network, parsed, resolve_device(device), num_overlap, batch_size, precision,
                     name=checkpoint.stem)
