"""Sample and frame levels of a stream: peak, clipped share, DC offset, and the distribution of 20 ms frame levels
(silence share and an energy-percentile SNR), in memory that does not grow with the file.

The frame levels are kept as a histogram of 0.1 dB bins, so percentiles are exact to 0.1 dB. The SNR is the
level of the loud frames (95th percentile of frame power) over the level of the quiet ones (10th percentile): the
quiet frames of singing are its pauses and breaths, so the estimate needs pauses (NIST's STNR makes the same
assumption); a clip held on one note from start to end reads as noisier than it is. Frame levels are of the
frame with its mean removed, so that a DC offset does not read as noise.
"""

from __future__ import annotations

import numpy as np

FRAME_SECONDS = 0.02
FLOOR_DB, CEILING_DB, BIN_DB = -150.0, 10.0, 0.1
SIGNAL_PERCENTILE, NOISE_PERCENTILE = 95.0, 10.0
MAX_SNR_DB = 100.0  # pauses of digital silence: the noise is below anything measurable


class StreamingLevels:
    """Feed ``(channels, n)`` float blocks with :meth:`update`; levels are of all channels (peak, clipping, DC) or
    of their mean (frame levels)."""

    def __init__(self, sample_rate: int, channels: int, clip_level: float) -> None:
        self.sample_rate, self.channels, self.clip_level = sample_rate, channels, clip_level
        self.frame_length = max(1, round(FRAME_SECONDS * sample_rate))
        self.num_samples = 0
        self.peak = 0.0
        self.clipped = 0
        self.sums = np.zeros(channels)
        self._carry = np.zeros(0)
        self.histogram = np.zeros(int(round((CEILING_DB - FLOOR_DB) / BIN_DB)) + 1, dtype=np.int64)

    def update(self, block: np.ndarray) -> None:
        x = block.astype(np.float64)
        self.num_samples += x.shape[1]
        magnitude = np.abs(x)
        self.peak = max(self.peak, float(magnitude.max(initial=0.0)))
        self.clipped += int(np.count_nonzero(magnitude >= self.clip_level))
        self.sums += x.sum(axis=1)
        mono = np.concatenate([self._carry, x.mean(axis=0)])
        whole = mono.shape[0] // self.frame_length * self.frame_length
        self._carry = mono[whole:]
        self._add_frames(mono[:whole].reshape(-1, self.frame_length))

    def _add_frames(self, frames: np.ndarray) -> None:
        if not frames.size:
            return
        # Each frame's own mean is taken out: a DC offset (flagged on its own) is neither signal nor noise.
        power = np.mean(np.square(frames - frames.mean(axis=1, keepdims=True)), axis=1)
        with np.errstate(divide="ignore"):
            level = 10.0 * np.log10(power)
        bins = np.clip(np.round((level - FLOOR_DB) / BIN_DB), 0, self.histogram.size - 1).astype(np.int64)
        self.histogram += np.bincount(bins, minlength=self.histogram.size)

    def finish(self) -> None:
        """Count the last, shorter frame (a clip shorter than one frame still has a level)."""
        if self._carry.size:
            self._add_frames(self._carry[None, :])
            self._carry = np.zeros(0)

    def level_percentile(self, percentile: float) -> float | None:
        """The frame level (dB re full scale) below which ``percentile`` % of the frames lie."""
        total = int(self.histogram.sum())
        if not total:
            return None
        index = int(np.searchsorted(np.cumsum(self.histogram), percentile / 100.0 * total))
        return FLOOR_DB + min(index, self.histogram.size - 1) * BIN_DB

    def silence_fraction(self, silence_dbfs: float) -> float | None:
        total = int(self.histogram.sum())
        if not total:
            return None
        below = int(np.floor((silence_dbfs - FLOOR_DB) / BIN_DB + 1e-9))
        return float(self.histogram[: max(below, 0)].sum() / total)

    def snr_db(self) -> float | None:
        signal, noise = self.level_percentile(SIGNAL_PERCENTILE), self.level_percentile(NOISE_PERCENTILE)
        if signal is None or noise is None:
            return None
        if noise <= FLOOR_DB:
            return MAX_SNR_DB
        return float(min(signal - noise, MAX_SNR_DB))

    def peak_dbfs(self) -> float | None:
        return None if self.peak == 0.0 else float(20.0 * np.log10(self.peak))

    def clipped_fraction(self) -> float:
        return self.clipped / max(1, self.num_samples * self.channels)

    def dc_offset(self) -> float:
        """The largest channel mean (signed)."""
        means = self.sums / max(1, self.num_samples)
        return float(means[np.argmax(np.abs(means))]) if means.size else 0.0
