"""Chunked separation of a track of any length, by the rule the published checkpoints are evaluated with:

* chunks of ``C`` samples every ``step = C // num_overlap``; each chunk's output is weighted by a window with a
  linear fade of ``C // 10`` samples at both ends, except no fade-in on the first chunk and no fade-out on the last
  (a track that fits one chunk keeps its fade-out); the output is the weighted sum over the summed weights (0 where
  they sum to 0);
* a track longer than ``2 (C - step)`` is reflect-padded by ``C - step`` at both ends, and that padding is cut off
  the output;
* a chunk shorter than ``C`` (the track's end) is reflect-padded to ``C`` when longer than ``C / 2``, else
  zero-padded.

:class:`TrackDemix` applies it to a track fed block by block: it holds one chunk of input and one chunk of
output at a time, so memory does not grow with the track. Chunks of several tracks may go through the network in
one batch; each chunk's first/last decision is its own (the same as one chunk at a time).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChunkRule:
    chunk_size: int
    num_overlap: int

    @property
    def step(self) -> int:
        return self.chunk_size // self.num_overlap

    @property
    def border(self) -> int:
        return self.chunk_size - self.step

    @property
    def fade_size(self) -> int:
        return self.chunk_size // 10

    def pads_borders(self, num_samples: int) -> bool:
        return self.border > 0 and num_samples > 2 * self.border

    def window(self, first: bool, last: bool) -> np.ndarray:
        window = np.ones(self.chunk_size, np.float32)
        fade = self.fade_size
        if fade > 0:
            window[:fade] = np.linspace(0, 1, fade, dtype=np.float32)
            window[-fade:] = np.linspace(1, 0, fade, dtype=np.float32)
            if first:
                window[:fade] = 1
            elif last:
                window[-fade:] = 1
        return window


@dataclass
class Chunk:
    """One chunk of one track: ``audio`` ``(channels, C)``, its start in the padded track, how many of its samples
    are the track's own (``length``) and whether it is the first/last chunk."""

    index: int
    start: int
    length: int
    first: bool
    last: bool
    audio: np.ndarray


class TrackDemix:
    """Overlap-add of one track's chunks. Feed input with :meth:`push` (``(channels, n)`` blocks) and
    :meth:`finish`; take :meth:`ready` chunks to the network and give their outputs to :meth:`add` in the order they
    were taken; :meth:`take_output` returns the output samples that no later chunk can change, ``(stems,
    channels, n)``."""

    def __init__(self, rule: ChunkRule, channels: int, num_stems: int) -> None:
        self.rule, self.channels, self.num_stems = rule, channels, num_stems
        self._input = np.zeros((channels, 0), np.float32)  # padded-track samples from _input_start on
        self._input_start = 0
        self._head: np.ndarray | None = np.zeros((channels, 0), np.float32)  # the track's start, until padding is known
        self._tail = np.zeros((channels, 0), np.float32)  # the last border + 1 samples seen (for the end padding)
        self.num_samples = 0  # track samples pushed so far
        self.finished = False
        self.padded: bool | None = None  # decided once more than 2·border samples or the end are seen
        self._next_chunk = 0  # index of the next chunk to take
        self._pending: deque[Chunk] = deque()  # taken, output not yet added
        self._sum = np.zeros((num_stems, channels, 0), np.float32)  # weighted outputs from _out_start on
        self._weight = np.zeros(0, np.float32)
        self._out_start = 0  # padded-track position of _sum[..., 0]
        self._final_until = 0  # padded-track positions below this are final

    # -- input ---------------------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        """Padding before the track's first sample."""
        return self.rule.border if self.padded else 0

    @property
    def padded_length(self) -> int | None:
        return self.num_samples + 2 * self.offset if self.finished else None

    def push(self, block: np.ndarray) -> None:
        if self.finished:
            raise ValueError("push after finish")
        block = np.asarray(block, np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, samples), got {block.shape}")
        self.num_samples += block.shape[1]
        keep = self.rule.border + 1
        self._tail = np.concatenate([self._tail, block], axis=1)[:, -keep:]
        if self._head is not None:
            self._head = np.concatenate([self._head, block], axis=1)
            if self.rule.pads_borders(self._head.shape[1]):
                self._start_input(pad=True)
        else:
            self._input = np.concatenate([self._input, block], axis=1)

    def finish(self) -> None:
        if self.finished:
            return
        if self.num_samples == 0:
            raise ValueError("an empty track")
        self.finished = True
        if self._head is not None:
            self._start_input(pad=self.rule.pads_borders(self._head.shape[1]))
        if self.padded:
            border = self.rule.border
            self._input = np.concatenate([self._input, self._tail[:, -2:-border - 2:-1]], axis=1)

    def _start_input(self, pad: bool) -> None:
        head, self._head = self._head, None
        self.padded = pad
        self._input = np.concatenate([head[:, self.rule.border:0:-1], head], axis=1) if pad else head

    # -- chunks --------------------------------------------------------------------------------------
    def ready(self) -> list[Chunk]:
        """The chunks whose input is complete (and whose first/last role is known)."""
        rule, chunks = self.rule, []
        if self.padded is None:
            return chunks
        while True:
            start = self._next_chunk * rule.step
            known_end = self._input_start + self._input.shape[1]
            total = self.padded_length
            if total is not None and start >= total:
                break
            if total is None and known_end <= start + max(rule.chunk_size, rule.step):
                break  # neither the chunk nor whether it is the last is known yet
            part = self._input[:, start - self._input_start:start - self._input_start + rule.chunk_size]
            length = part.shape[1]
            if length < rule.chunk_size:
                mode = "reflect" if length > rule.chunk_size // 2 else "constant"
                part = np.pad(part, ((0, 0), (0, rule.chunk_size - length)), mode=mode)
            last = total is not None and start + rule.step >= total
            chunks.append(Chunk(self._next_chunk, start, length, start == 0, last and start != 0,
                                np.ascontiguousarray(part)))
            self._next_chunk += 1
            drop = start + rule.step - self._input_start  # the next chunk starts there
            if drop > 0:
                self._input = self._input[:, drop:]
                self._input_start += drop
        self._pending.extend(chunks)
        return chunks

    def add(self, chunk: Chunk, output: np.ndarray) -> None:
        """``output``: the network's ``(stems, channels, C)`` for ``chunk`` (chunks in the order taken)."""
        expected = self._pending.popleft()
        if expected is not chunk:
            raise ValueError("chunk outputs must come back in the order the chunks were taken")
        length = chunk.length
        window = self.rule.window(chunk.first, chunk.last)[:length]
        end = chunk.start + length
        grow = end - (self._out_start + self._weight.shape[0])
        if grow > 0:
            self._sum = np.concatenate([self._sum, np.zeros((self.num_stems, self.channels, grow), np.float32)], 2)
            self._weight = np.concatenate([self._weight, np.zeros(grow, np.float32)])
        at = chunk.start - self._out_start
        self._sum[..., at:at + length] += output[..., :length] * window
        self._weight[at:at + length] += window
        total = self.padded_length
        self._final_until = total if (chunk.last or (total is not None and chunk.start + self.rule.step >= total)) \
            else chunk.start + self.rule.step

    @property
    def done(self) -> bool:
        return self.finished and self.padded_length is not None and self._final_until >= self.padded_length \
            and not self._pending

    def take_output(self) -> np.ndarray:
        """The output samples final so far (padding cut): ``(stems, channels, n)``."""
        final = min(self._final_until, self._out_start + self._weight.shape[0])
        if self.finished:
            final = min(final, self.offset + self.num_samples)
        count = final - self._out_start
        if count <= 0:
            return np.zeros((self.num_stems, self.channels, 0), np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._sum[..., :count] / self._weight[:count]
        out = np.nan_to_num(out, nan=0.0)
        self._sum, self._weight = self._sum[..., count:], self._weight[count:]
        begin = self._out_start
        self._out_start = final
        skip = max(0, self.offset - begin)  # the leading padding is never output
        out = out[..., skip:]
        return out
