"""A long file's outputs a window at a time: each output's rows computed from the audio its window reads plus the
context its computation needs, so that memory does not grow with the file.

    audio   |~~ctx~~|========== window k ==========|~~ctx~~|
    rows                     [r0 ............. r1)            each window's rows, written in place on disk

What equals the whole-file computation, and how:
- log-mel and energy: windows on multiples of the mel's own 4096-frame chunks, every frame from the same samples
  with the same ops: bit-identical;
- content features: the extractor's own chunk plan over the whole file, one chunk per forward (the whole-file path
  batches a clip's chunks together), aligned to the mel rows by the same integer taps: equal to float32 rounding;
- CPU F0 (parselmouth; WORLD's trackers are computed whole): the tracker runs on 60 s windows with 10 s of
  context on each side, cut so that its frames fall at the whole-file times (given as exactly rounded floats on
  both paths); parselmouth is given the file's peak (Praat's voicing threshold is relative to the peak of the
  sound it analyses); its path finder decides within a window, so the rows equal the whole-file ones where the
  best path does not change across 10 s (on the test signals: everywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.align.methods import align_rows, source_frames_read
from svcprep.audio.mel import mel_extractor
from svcprep.audio.stream import STREAMED_LENGTH_RULES, StreamReader
from svcprep.audio.views import RAW
from svcprep.pitch.tracking import sample_track, track_on_grid

MEL_CHUNK_FRAMES = 4096  # MelExtractor's chunk: windows on multiples of it compute the same bits
MEL_WINDOW_FRAMES = 4 * MEL_CHUNK_FRAMES
PITCH_WINDOW_SECONDS = 60.0
PITCH_CONTEXT_SECONDS = 10.0
FEATURE_WINDOW_FRAMES = 8192


@dataclass(frozen=True)
class FileShape:
    """A file of a streamed output: its final shape and dtype, and the axis its rows grow along."""

    shape: tuple[int, ...]
    dtype: str
    axis: int = 0


@dataclass
class RowStream:
    """One output of one long file: ``files`` (name → final shape), and ``blocks``, an iterator of
    ``{file name: (first row, rows)}`` per window, in order; ``seconds_per_row``: how far into the file each row
    goes (for progress)."""

    files: dict[str, FileShape]
    blocks: Iterator[dict[str, tuple[int, np.ndarray]]]
    seconds_per_row: float


@dataclass
class StreamSource:
    """The audio of one long file as the outputs read it: a forward-only reader per consumer, lengths from the
    header, whole-file statistics from a first pass, and products shared by outputs reading the same windows."""

    path: Path
    frames: dict[str, int] = field(default_factory=dict)  # rows fixed by files already on disk
    _stats: dict[Any, Any] = field(default_factory=dict)
    _products: dict[Any, Any] = field(default_factory=dict)

    @staticmethod
    def streamable(request: Any) -> bool:
        """Audio a stream gives exactly as the whole-file decode does: the file itself, resampled by soxr."""
        return request.view == RAW and request.length_rule in STREAMED_LENGTH_RULES

    def reader(self, request: Any) -> StreamReader:
        return StreamReader(self.path, request.sample_rate, request.channels, request.length_rule)

    def num_samples(self, request: Any) -> int:
        return self._stat(("num_samples", request), lambda: self.reader(request).num_samples)

    def _blocks(self, request: Any) -> Iterator[np.ndarray]:
        """The whole audio in float64 blocks of 2^20 samples (a pass over the file)."""
        reader = self.reader(request)
        for start in range(0, reader.num_samples, 1 << 20):
            yield reader.read(start, start + (1 << 20)).astype(np.float64)

    def peak(self, request: Any) -> float:
        """The largest magnitude of the whole audio (a first pass, once per request)."""
        return self._stat(("peak", request),
                          lambda: max((float(np.abs(b).max(initial=0.0)) for b in self._blocks(request)), default=0.0))

    def mean_var(self, request: Any) -> tuple[float, float]:
        """Mean and variance of the whole audio in float64 (two passes, as ``x.mean()``, ``x.var()``)."""
        def compute() -> tuple[float, float]:
            count = self.num_samples(request)
            mean = sum(float(b.sum()) for b in self._blocks(request)) / count
            return mean, sum(float(np.square(b - mean).sum()) for b in self._blocks(request)) / count

        return self._stat(("mean_var", request), compute)

    def _stat(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._stats:
            self._stats[key] = compute()
        return self._stats[key]

    def product(self, key: Any, compute: Callable[[], Any]) -> Any:
        """A window's product several outputs use (the mel of the window for the mel and the energy); only the
        latest few are kept."""
        if key not in self._products:
            if len(self._products) >= 4:
                self._products.pop(next(iter(self._products)))
            self._products[key] = compute()
        return self._products[key]


def mel_rows(source: StreamSource, preset: Any, request: Any,
             make: Callable[[np.ndarray], np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, ``make(log-mel of the window)``) per window of the file's mel frames (``request``: the mel's
    audio)."""
    reader = source.reader(request)
    extractor = mel_extractor(preset)
    hop, total = preset.hop_length, reader.num_samples
    num_frames = preset.num_frames(total)
    for first in range(0, num_frames, MEL_WINDOW_FRAMES):
        last = min(num_frames, first + MEL_WINDOW_FRAMES)

        def compute(first: int = first, last: int = last) -> np.ndarray:
            begin = max(0, first * hop - extractor.pad)
            segment = reader.read(begin, (last - 1) * hop + preset.n_fft - extractor.pad)
            return extractor.frames(segment, begin, total, first, last, MEL_CHUNK_FRAMES)

        yield first, make(source.product(("log_mel", preset, first), compute))


def _pitch_segments(num_samples: int, hop: int, num_rows: int, sample_rate: int) -> Iterator[tuple[int, int, int,
                                                                                                   int]]:
    """(first row, last row, segment start, segment end) of each pitch window: starts on the hop, ends a whole
    number of hops before the file's end, so that a tracker's frames, centred in what it reads, fall at the
    whole-file times."""
    window = max(1, int(PITCH_WINDOW_SECONDS * sample_rate) // hop)
    context = int(PITCH_CONTEXT_SECONDS * sample_rate) // hop
    for first in range(0, num_rows, window):
        last = min(num_rows, first + window)
        start = max(0, first - context) * hop
        wanted = (last + context) * hop
        end = num_samples if wanted >= num_samples else num_samples - ((num_samples - wanted) // hop) * hop
        yield first, last, start, end


def cpu_pitch_rows(source: StreamSource, grid: Any, num_rows: int, settings: Any) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, F0 of the window's rows) of a CPU tracker on ``grid``'s audio."""
    reader = source.reader(grid.audio)
    total, hop, rate = reader.num_samples, grid.hop_length, grid.sample_rate
    peak = source.peak(grid.audio) if settings.method == "parselmouth" else None
    for first, last, start, end in _pitch_segments(total, hop, num_rows, rate):
        segment = reader.read(start, end).astype(np.float64)
        if peak is not None and (start > 0 or end < total) and np.abs(segment).max(initial=0.0) < peak:
            # Praat's voicing is relative to the peak of what it analyses: the file's, planted in the context.
            segment[0 if start > 0 else -1] = peak
        times = (np.arange(first, last) + float(grid.offset)) * hop / rate  # as grid.times gives them
        yield first, track_on_grid(segment, rate, hop, times, settings, offset_samples=start)


def chunks_long_audio(model: Any) -> bool:
    """Whether an extractor cuts a long clip into chunks (an hour of audio into more than one): its features of a
    long file can then be computed a chunk at a time."""
    if model is None or not hasattr(model, "extract_piece"):
        return False
    return len(model.plan([3600 * model.spec.sample_rate])) > 1


def native_feature_rows(source: StreamSource, model: Any, request: Any) -> tuple[int, Iterator[tuple[int,
                                                                                                    np.ndarray]]]:
    """(native frames of the file, iterator of (first frame, frames)): the extractor's chunk plan over the whole
    file, one chunk per forward."""
    reader = source.reader(request.audio)
    total = reader.num_samples
    stats = source.mean_var(request.audio) if model.input_norm_eps is not None else None
    chunks = sorted(model.plan([total]), key=lambda c: c.start)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        for chunk in chunks:
            out = model.extract_piece(reader.read(chunk.start, chunk.stop), stats)
            yield chunk.start // model.spec.hop_length + chunk.keep_from, out[chunk.keep_from: chunk.keep_to]

    return model.spec.num_frames(total), frames()


def aligned_feature_rows(native: Iterator[tuple[int, np.ndarray]], num_native: int, source_grid: Any,
                         target_grid: Any, num_rows: int, method: str) -> Iterator[tuple[int, np.ndarray]]:
    """Native frames aligned to ``num_rows`` target rows window by window, holding only the native frames the
    current window reads."""
    kwargs = dict(num_source_frames=num_native, source=source_grid, target=target_grid, target_len=num_rows,
                  method=method)
    held, held_start = None, 0
    for first in range(0, num_rows, FEATURE_WINDOW_FRAMES):
        rows = range(first, min(num_rows, first + FEATURE_WINDOW_FRAMES))
        low, high = source_frames_read(frames=rows, **kwargs)
        if held is not None and low > held_start:  # frames no later window reads
            held, held_start = held[low - held_start:], low
        while held is None or held_start + len(held) <= high:
            start, block = next(native)
            if held is None:
                held, held_start = block, start
            else:
                held = np.concatenate([held, block])
        yield first, align_rows(held, held_start, frames=rows, **kwargs)


def neural_pitch_rows(source: StreamSource, tracker: Any, request: Any, grid: Any,
                      num_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, F0 of the rows) of a neural tracker on a long file: its mel chunk by chunk, its own windows
    (``plan_windows``) one per forward, with the whole-file statistics from a first pass where it needs them,
    decoded, then sampled at the grid's times from the native frames around them."""
    from svcprep.pitch.neural import MelFrames, plan_windows  # lazy: torch

    total = source.num_samples(request)
    num_native = tracker.spec.num_frames(total)

    def mel_frames() -> Any:
        return MelFrames(tracker.mel_chunks(source.reader(request).read, total))

    context = tracker.long_clip_context(mel_frames(), num_native)
    frames = mel_frames()

    def native() -> Iterator[np.ndarray]:
        for w in plan_windows([num_native], tracker.window_frames, tracker.context_frames):
            yield tracker.window_f0(frames(w.first, w.last), w, context)

    blocks, held, held_start = native(), np.zeros(0, dtype=np.float32), 0
    for first in range(0, num_rows, FEATURE_WINDOW_FRAMES):
        times = (np.arange(first, min(num_rows, first + FEATURE_WINDOW_FRAMES)) + float(grid.offset)) \
            * grid.hop_length / grid.sample_rate  # as grid.times gives them
        # Hold native frames until one lies past the last time (sample_track reads the two around each time).
        while held_start + len(held) < num_native and (
                not len(held) or tracker.frame_times_at(np.array([held_start + len(held) - 1]))[0] <= times[-1]):
            held = np.concatenate([held, next(blocks)])
        native_times = tracker.frame_times_at(np.arange(held_start, held_start + len(held)))
        yield first, sample_track(native_times, held, times).astype(np.float32)
        keep = max(0, int(np.searchsorted(native_times, times[-1], side="right")) - 1)  # later times read on
        held, held_start = held[keep:], held_start + keep
