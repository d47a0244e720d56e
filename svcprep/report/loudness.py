"""Integrated loudness (ITU-R BS.1770-4) of a stream, with pyloudnorm's own K-weighting filters and gating.

pyloudnorm measures a whole array; here the same filters run block by block (their state carried between
blocks), and each 400 ms gating block's mean square is taken as soon as its samples have passed, so a file of
any length needs about one gating block in memory. The block bounds, the block count (rounded as pyloudnorm rounds
it, the last block short when it runs past the end) and the two gates are pyloudnorm's, so the result is the
library's to the float64 rounding of the same sums.
"""

from __future__ import annotations

import numpy as np

BLOCK_SECONDS = 0.4  # the standard's gating block
OVERLAP = 0.75
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs
# Files with an LFE channel, in WAV's channel order: 5.1 (L, R, C, LFE, Ls, Rs) and 7.1 (L, R, C, LFE, Ls, Rs, Lss,
# Rss). BS.1770-4 leaves the LFE out (weight 0) and weights surrounds 1.41.
LAYOUT_GAINS = {6: (1.0, 1.0, 1.0, 0.0, 1.41, 1.41), 8: (1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.41, 1.41)}


def channel_gains(channels: int) -> tuple[float, ...]:
    """BS.1770-4's weight per channel of a file with ``channels`` channels (``ValueError`` for a layout it does not
    define)."""
    if channels in LAYOUT_GAINS:
        return LAYOUT_GAINS[channels]
    if channels > len(CHANNEL_GAINS):
        raise ValueError(f"loudness is defined for 1-5, 6 (5.1) and 8 (7.1) channels, got {channels}")
    return CHANNEL_GAINS[:channels]
ABSOLUTE_GATE_LUFS = -70.0


class StreamingLoudness:
    """Feed ``(channels, n)`` blocks with :meth:`update`; :meth:`lufs` gives the integrated loudness (``None`` for a
    signal shorter than one gating block, which pyloudnorm refuses; ``-inf`` for silence, as pyloudnorm gives)."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        import pyloudnorm
        import scipy.signal

        self.gains = np.array(channel_gains(channels))[:, None]
        self._lfilter = scipy.signal.lfilter
        self.sample_rate, self.channels = sample_rate, channels
        # The K-weighting stages as the library builds them (shelf, then high-pass), each with its passband gain.
        stages = pyloudnorm.Meter(sample_rate)._filters.values()
        self._stages = [(f.b, f.a, f.passband_gain) for f in stages]
        self._state = [[scipy.signal.lfilter_zi(b, a) * 0.0 for b, a, _ in self._stages] for _ in range(channels)]
        self._buffer = np.zeros((channels, 0))  # filtered samples from self._buffer_start on
        self._buffer_start = 0
        self._received = 0
        self._block_sums: list[np.ndarray] = []  # per block: the per-channel sum of squares

    def _bounds(self, j: int) -> tuple[int, int]:
        step = 1.0 - OVERLAP
        return (int(BLOCK_SECONDS * (j * step) * self.sample_rate),
                int(BLOCK_SECONDS * (j * step + 1) * self.sample_rate))

    def update(self, block: np.ndarray) -> None:
        filtered = np.empty(block.shape)
        for channel in range(self.channels):
            x = block[channel].astype(np.float64)
            for index, (b, a, gain) in enumerate(self._stages):
                y, self._state[channel][index] = self._lfilter(b, a, x, zi=self._state[channel][index])
                x = gain * y
            filtered[channel] = x
        self._buffer = np.concatenate([self._buffer, filtered], axis=1)
        self._received += block.shape[1]
        self._take_blocks(final=False)

    def _take_blocks(self, final: bool, num_blocks: int | None = None) -> None:
        while num_blocks is None or len(self._block_sums) < num_blocks:
            lower, upper = self._bounds(len(self._block_sums))
            if upper > self._received and not final:
                break
            part = self._buffer[:, lower - self._buffer_start: upper - self._buffer_start]
            self._block_sums.append(np.array([np.sum(np.square(part[c])) for c in range(self.channels)]))
            next_lower = self._bounds(len(self._block_sums))[0]
            drop = next_lower - self._buffer_start
            if drop > 0:
                self._buffer = self._buffer[:, drop:]
                self._buffer_start = next_lower

    def lufs(self) -> float | None:
        seconds = self._received / self.sample_rate
        if self._received < BLOCK_SECONDS * self.sample_rate:
            return None
        step = 1.0 - OVERLAP
        num_blocks = int(np.round((seconds - BLOCK_SECONDS) / (BLOCK_SECONDS * step))) + 1
        self._take_blocks(final=True, num_blocks=num_blocks)
        z = np.stack(self._block_sums[:num_blocks], axis=1) * (1.0 / (BLOCK_SECONDS * self.sample_rate))
        gains = self.gains
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(np.sum(gains * z, axis=0))
        above_absolute = block_lufs >= ABSOLUTE_GATE_LUFS
        if not above_absolute.any():
            return float("-inf")
        relative_gate = -0.691 + 10.0 * np.log10(np.sum(gains[:, 0] * z[:, above_absolute].mean(axis=1))) - 10.0
        gated = (block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)
        if not gated.any():
            return float("-inf")
        with np.errstate(divide="ignore"):
            return float(-0.691 + 10.0 * np.log10(np.sum(gains[:, 0] * z[:, gated].mean(axis=1))))
