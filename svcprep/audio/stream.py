"""Audio read block by block, resampled as it streams: a file of any length in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from svcprep.audio.io import MAX_ABS_SAMPLE, check_regular_file, resampled_num_samples, surround_to_stereo
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
    """``(n, file channels)`` → ``(n, channels)`` as :func:`~svcprep.audio.io.to_channels` gives it."""
    if block.shape[1] == channels:
        return block
    if channels == 1:
        return block.mean(axis=1, keepdims=True, dtype=np.float32)
    if block.shape[1] == 1:
        return np.repeat(block, channels, axis=1)
    if channels == 2 and block.shape[1] > 2:
        return surround_to_stereo(block)
    return block[:, :channels]


def read_blocks(path: Path, sample_rate: int, channels: int, block_seconds: float = BLOCK_SECONDS,
                quality: str = "HQ") -> Iterator[np.ndarray]:
    """``(channels, n)`` float32 blocks of ``path`` at ``sample_rate`` (soxr ``quality``, streaming; the whole file
    gives :func:`streamed_num_samples` samples). Non-finite or far out-of-range samples raise
    :class:`AudioLoadError`."""
    import soundfile as sf
    import soxr

    _, rate, _ = stream_info(path)
    resampler = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, channels, dtype="float32",
                                                                      quality=quality)
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


STREAMED_LENGTH_RULES = ("soxr", "librosa", "librosa_vhq")  # rules a stream reproduces exactly


class StreamReader:
    """Samples ``[start, end)`` of a file as :func:`~svcprep.audio.io.resample` of the whole decoded file gives
    them (mono by averaging, or ``channels``; soxr streaming; the ``librosa`` rules' zero padding or cut at the
    end), read forward with a sliding buffer: reads must not go back before the last read's start."""

    def __init__(self, path: Path, sample_rate: int, channels: int = 1, length_rule: str = "soxr",
                 block_seconds: float = BLOCK_SECONDS) -> None:
        if length_rule not in STREAMED_LENGTH_RULES:
            raise ValueError(f"length rule {length_rule!r} cannot be streamed")
        num_samples, rate, _ = stream_info(path)
        self.path, self.sample_rate, self.channels = path, sample_rate, channels
        self.num_samples = resampled_num_samples(num_samples, rate, sample_rate, length_rule)
        self._quality = "VHQ" if length_rule == "librosa_vhq" else "HQ"
        self._blocks = self._read(block_seconds)
        self._buffer = np.zeros((0,) if channels == 1 else (0, channels), dtype=np.float32)
        self._buffer_start = 0

    def _read(self, block_seconds: float) -> Iterator[np.ndarray]:
        for block in read_blocks(self.path, self.sample_rate, self.channels, block_seconds, self._quality):
            yield block[0] if self.channels == 1 else np.ascontiguousarray(block.T)

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)`` (``end`` clipped to the length); ``(n,)`` mono or ``(n, channels)``."""
        if start < self._buffer_start:
            raise ValueError(f"read from {start} after reading from {self._buffer_start}: streams go forward")
        end = min(end, self.num_samples)
        drop = min(start - self._buffer_start, len(self._buffer))  # what lies before start is not needed again
        self._buffer, self._buffer_start = self._buffer[drop:], self._buffer_start + drop
        have = self._buffer_start + len(self._buffer)
        pieces = [self._buffer]
        while have < end:
            block = next(self._blocks, None)
            if block is None:  # the librosa rules pad the end with zeros
                block = np.zeros((end - have, *self._buffer.shape[1:]), dtype=np.float32)
            if have < start:  # the buffer is empty: skip the part of the block before start
                skip = min(len(block), start - have)
                block, have = block[skip:], have + skip
                self._buffer_start = have
            pieces.append(block)
            have += len(block)
        self._buffer = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        if self._buffer_start + len(self._buffer) > self.num_samples:  # the librosa rules cut the end
            self._buffer = self._buffer[: self.num_samples - self._buffer_start]
        return self._buffer[start - self._buffer_start: end - self._buffer_start]
