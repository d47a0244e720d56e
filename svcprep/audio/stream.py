"""Audio read block by block, resampled as it streams: a file of any length in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from svcprep.audio.io import MAX_ABS_SAMPLE, check_regular_file, resampled_num_samples
from svcprep.errors import AudioLoadError

BLOCK_SECONDS = 10.0


def stream_info(path: Path) -> tuple[int, int, int]:
    """``(num_samples, sample_rate, channels)`` from the header."""
    import soundfile as sf

    check_regular_file(path)
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError) as exc:
        raise AudioLoadError(f"cannot read audio header: {exc}") from exc
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioLoadError("audio header has no sample rate or no channels")
    return int(info.frames), int(info.samplerate), int(info.channels)


def streamed_num_samples(path: Path, sample_rate: int) -> int:
    """How many samples :func:`read_blocks` yields at ``sample_rate`` (from the header)."""
    num_samples, rate, _ = stream_info(path)
    return resampled_num_samples(num_samples, rate, sample_rate)


def _with_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """``(n, file channels)`` → ``(n, channels)``: mono duplicated, extra channels averaged into mono or cut."""
    if block.shape[1] == channels:
        return block
    if channels == 1:
        return block.mean(axis=1, keepdims=True, dtype=np.float32)
    if block.shape[1] == 1:
        return np.repeat(block, channels, axis=1)
    return block[:, :channels]


def read_blocks(path: Path, sample_rate: int, channels: int,
                block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """``(channels, n)`` float32 blocks of ``path`` at ``sample_rate`` (soxr HQ, streaming; the whole file gives
    :func:`streamed_num_samples` samples). Non-finite or far out-of-range samples raise :class:`AudioLoadError`."""
    import soundfile as sf
    import soxr

    _, rate, _ = stream_info(path)
    resampler = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, channels, dtype="float32",
                                                                      quality="HQ")
    block_frames = max(1, int(block_seconds * rate))
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                last = block.shape[0] < block_frames
                if block.shape[0]:
                    peak = max(float(block.max()), -float(block.min()))
                    if not np.isfinite(peak):
                        raise AudioLoadError("audio contains NaN or infinite samples")
                    if peak > MAX_ABS_SAMPLE:
                        raise AudioLoadError(f"peak amplitude {peak:.3g}: float audio is expected within about ±1")
                block = _with_channels(block, channels)
                if resampler is not None:
                    block = resampler.resample_chunk(np.ascontiguousarray(block), last=last)
                if block.shape[0]:
                    yield np.ascontiguousarray(block.T)
                if last:
                    return
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioLoadError(f"cannot decode audio: {exc}") from exc
