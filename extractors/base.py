"""The extractor contract and the machinery every family shares: padding, chunking, verification.

An extractor receives clips as float32 numpy arrays at ``spec.sample_rate`` (1-D, or ``(num_samples,
channels)`` for multi-channel models) and returns one ``(spec.num_frames(len_i), D)`` array per clip.
Families implement :meth:`BatchExtractor.forward_batch` on a zero-padded batch plus true lengths; they
must make each clip's output independent of its batch mates (never infer padding from ``wav == 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from svcprep.errors import AudioLoadError, ConfigError, FrameCountError
from svcprep.extractors.spec import ExtractorSpec


@dataclass(frozen=True)
class Chunk:
    """A piece of clip ``clip`` fed to the model: samples ``[start, stop)``; its local frames
    ``[keep_from, keep_to)`` are kept, and they are the clip's frames from ``start // hop + keep_from``."""

    clip: int
    start: int
    stop: int
    keep_from: int
    keep_to: int


class ClipTooShortError(AudioLoadError):
    def __init__(self, index: int, num_samples: int, spec: ExtractorSpec) -> None:
        self.index = index
        min_ms = 1000 * spec.receptive_field / spec.sample_rate
        super().__init__(
            f"clip {index} has {num_samples} samples at {spec.sample_rate} Hz; {spec.name} needs at least "
            f"{spec.receptive_field} samples ({min_ms:.1f} ms) for one frame"
        )


def quiet_transformers() -> None:
    """No per-load progress bars or config chatter from transformers in svcprep's output."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype

    if dtype is None:
        return torch.float32
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def plan_chunks(
    lengths: list[int], spec: ExtractorSpec, chunk_frames: int | None, overlap_frames: int
) -> list[Chunk]:
    """Split clips longer than ``chunk_frames`` frames into overlapping chunks on the frame grid.

    Chunk ``k`` keeps frames ``[k*K, (k+1)*K)`` with ``K = chunk_frames - 2*overlap_frames`` and also
    sees ``overlap_frames`` of context on each side, which are computed and discarded::

        clip frames   |0 ......................................................... F|
        chunk 0       |==== kept K ====|~ctx~|
        chunk 1                  |~ctx~|==== kept K ====|~ctx~|
        chunk 2                                   |~ctx~|== kept (rest) ==|

    Chunk starts are multiples of the hop, so local frame ``m`` is global frame ``start // hop + m``.
    """
    hop, field = spec.hop_length, spec.receptive_field
    chunks: list[Chunk] = []
    for clip, num_samples in enumerate(lengths):
        num_frames = spec.num_frames(num_samples)
        if chunk_frames is None or num_frames <= chunk_frames:
            chunks.append(Chunk(clip, 0, num_samples, 0, num_frames))
            continue
        kept = chunk_frames - 2 * overlap_frames
        if kept <= 0:
            raise ValueError("chunk must be longer than twice its overlap")
        for first in range(0, num_frames, kept):
            last = min(num_frames, first + kept)
            a, b = max(0, first - overlap_frames), min(num_frames, last + overlap_frames)
            stop = num_samples if b == num_frames else (b - 1) * hop + field
            chunk = Chunk(clip, a * hop, stop, first - a, last - a)
            assert spec.num_frames(chunk.stop - chunk.start) >= chunk.keep_to
            chunks.append(chunk)
    return chunks


def pad_batch(pieces: list[np.ndarray], channels: int) -> torch.Tensor:
    """Zero-pad clips to one tensor: ``(B, N)`` for mono models, ``(B, channels, N)`` otherwise."""
    longest = max(len(p) for p in pieces)
    if channels == 1:
        batch = np.zeros((len(pieces), longest), dtype=np.float32)
        for i, p in enumerate(pieces):
            batch[i, : len(p)] = p
    else:
        batch = np.zeros((len(pieces), channels, longest), dtype=np.float32)
        for i, p in enumerate(pieces):
            batch[i, :, : len(p)] = p.T
    return torch.from_numpy(batch)


class BatchExtractor:
    """Shared ``extract``: validate, chunk, pad, run :meth:`forward_batch`, stitch, check frame counts."""

    spec: ExtractorSpec
    device: torch.device
    dtype: torch.dtype
    chunk_seconds: float | None = None
    overlap_seconds: float = 0.0
    max_batch_samples: int = 16000 * 240
    # Per-clip zero-mean, unit-variance input ``(x - mean) / sqrt(var + eps)`` when the checkpoint asks for it
    # (transformers' ``do_normalize``: eps 1e-7; fairseq's task ``normalize``: layer_norm, eps 1e-5).
    input_norm_eps: float | None = None

    def forward_batch(self, batch: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
        """``batch`` ``(B, N)`` or ``(B, C, N)`` on the device; returns ``(num_frames(len_i), D)`` per row."""
        raise NotImplementedError

    def _check_clip(self, index: int, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        if self.spec.channels == 1 and wav.ndim != 1:
            raise AudioLoadError(f"clip {index}: {self.spec.name} takes mono 1-D audio, got shape {wav.shape}")
        if self.spec.channels > 1 and (wav.ndim != 2 or wav.shape[1] != self.spec.channels):
            raise AudioLoadError(
                f"clip {index}: {self.spec.name} takes (num_samples, {self.spec.channels}) audio, got {wav.shape}"
            )
        if not np.isfinite(wav).all():
            raise AudioLoadError(f"clip {index}: audio contains NaN or infinite samples")
        if self.spec.num_frames(len(wav)) < 1:
            raise ClipTooShortError(index, len(wav), self.spec)
        return wav

    def _normalized(self, wav: np.ndarray) -> np.ndarray:
        """The whole clip normalized at once (before any chunking), as the reference does for one input."""
        if self.input_norm_eps is None:
            return wav
        wide = wav.astype(np.float64)
        return ((wide - wide.mean()) / np.sqrt(wide.var() + self.input_norm_eps)).astype(np.float32)

    def extract_piece(self, wav: np.ndarray, input_stats: tuple[float, float] | None = None) -> np.ndarray:
        """Features ``(num_frames(len(wav)), D)`` of one model input as :meth:`extract` runs one chunk of a clip
        (no further chunking): a long file fed a chunk of :meth:`plan` at a time. ``input_stats``: the whole clip's
        (mean, variance), for a model that normalizes its input (required then)."""
        wav = self._check_clip(0, wav)
        if self.input_norm_eps is not None:
            if input_stats is None:
                raise ValueError(f"{self.spec.name} normalizes its input: the whole clip's mean and variance are "
                                 "needed")
            mean, var = input_stats
            wav = ((wav.astype(np.float64) - mean) / np.sqrt(var + self.input_norm_eps)).astype(np.float32)
        with torch.inference_mode():
            out = self.forward_batch(pad_batch([wav], self.spec.channels).to(self.device), [len(wav)])[0]
            return (out.float() if out.is_floating_point() else out).cpu().numpy()

    def _chunk_frames(self) -> tuple[int | None, int]:
        if not self.chunk_seconds:
            return None, 0
        rate = self.spec.sample_rate / self.spec.hop_length
        return int(self.chunk_seconds * rate), int(self.overlap_seconds * rate)

    def plan(self, lengths: list[int]) -> list[Chunk]:
        """How clips are cut into model inputs (default: overlapping chunks beyond ``chunk_seconds``)."""
        chunk_frames, overlap_frames = self._chunk_frames()
        return plan_chunks(lengths, self.spec, chunk_frames, overlap_frames)

    @torch.inference_mode()
    def extract(self, waveforms: list[np.ndarray]) -> list[np.ndarray]:
        """Features ``(num_frames(len_i), D)`` for each clip; each is independent of the others."""
        clips = [self._normalized(self._check_clip(i, w)) for i, w in enumerate(waveforms)]
        chunks = self.plan([len(c) for c in clips])
        pieces: list[list[tuple[int, torch.Tensor]]] = [[] for _ in clips]
        # Longest first, in groups of at most max_batch_samples padded samples.
        order = sorted(range(len(chunks)), key=lambda i: chunks[i].stop - chunks[i].start, reverse=True)
        start = 0
        while start < len(order):
            longest = chunks[order[start]].stop - chunks[order[start]].start
            size = max(1, self.max_batch_samples // max(1, longest))
            group = [chunks[i] for i in order[start : start + size]]
            audio = [clips[c.clip][c.start : c.stop] for c in group]
            batch = pad_batch(audio, self.spec.channels).to(self.device)
            outputs = self.forward_batch(batch, [len(a) for a in audio])
            for chunk, out in zip(group, outputs, strict=True):
                first_frame = chunk.start // self.spec.hop_length + chunk.keep_from
                pieces[chunk.clip].append((first_frame, out[chunk.keep_from : chunk.keep_to]))
            start += size
        results = []
        for index, (clip, parts) in enumerate(zip(clips, pieces, strict=True)):
            parts.sort(key=lambda p: p[0])
            joined = torch.cat([p[1] for p in parts])
            feats = (joined.float() if joined.is_floating_point() else joined).cpu().numpy()
            expected = self.spec.num_frames(len(clip))
            if feats.shape[0] != expected:
                raise FrameCountError(
                    f"{self.spec.name}: clip {index} of {len(clip)} samples gave {feats.shape[0]} frames, "
                    f"spec predicts {expected}"
                )
            results.append(feats)
        return results

    def verify(self) -> None:
        """Run two short dummy clips and stop with a clear error if the frame count differs from the spec."""
        rng = np.random.default_rng(0)
        lengths = [self.spec.receptive_field + 7 * self.spec.hop_length + 3, self.spec.receptive_field]
        shape = (lambda n: (n,)) if self.spec.channels == 1 else (lambda n: (n, self.spec.channels))
        dummy = [0.1 * rng.standard_normal(shape(n)).astype(np.float32) for n in lengths]
        try:
            outs = self.extract(dummy)
        except FrameCountError as exc:
            raise FrameCountError(f"{exc}; the model does not match its config (hop/kernel sizes)") from None
        for out in outs:
            if out.ndim != 2 or out.shape[1] != self.spec.dim:
                raise FrameCountError(f"{self.spec.name}: output dim {out.shape} != spec dim {self.spec.dim}")
