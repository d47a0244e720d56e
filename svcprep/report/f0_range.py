"""The sung range of a stream: Praat's autocorrelation tracker (parselmouth) over 40-2000 Hz, wider than any
trainer's range so that the report sees what a trainer would cut, on 16 kHz mono windows of 30 s.

Each window is tracked on its own: Praat's path finder decides within a window, and the few frames within half an
analysis window (37.5 ms) of a window's edge are lost. For a range and a histogram that is immaterial; F0 files
for training come from ``svcprep pitch``, not from here. Voiced frames are counted in 10-cent bins, so the range
(1st and 99th percentiles of the voiced frames, robust to a stray octave jump) is exact to 10 cents.
"""

from __future__ import annotations

import numpy as np

from svcprep.errors import ConfigError

SAMPLE_RATE = 16000
F0_FLOOR_HZ, F0_CEILING_HZ = 40.0, 2000.0
TIME_STEP_SECONDS = 0.01
WINDOW_SECONDS = 30.0
CENTS_PER_BIN = 10
RANGE_PERCENTILES = (1.0, 99.0)
NUM_BINS = int(np.ceil(1200 * np.log2(F0_CEILING_HZ / F0_FLOOR_HZ) / CENTS_PER_BIN))


def bin_edges_hz(cents_per_bin: int = CENTS_PER_BIN) -> np.ndarray:
    """Edges of the histogram's bins (``NUM_BINS + 1`` of them at 10 cents)."""
    count = int(np.ceil(1200 * np.log2(F0_CEILING_HZ / F0_FLOOR_HZ) / cents_per_bin))
    return F0_FLOOR_HZ * 2.0 ** (np.arange(count + 1) * cents_per_bin / 1200.0)


def require_tracker() -> None:
    """Before any file is read: the tracker is installed."""
    try:
        import parselmouth  # noqa: F401
    except ImportError as exc:
        raise ConfigError("the F0 range needs praat-parselmouth: pip install 'svcprep[pitch]', or pass --no-pitch",
                          "pitch") from exc


class StreamingF0Range:
    """Feed mono 16 kHz float blocks with :meth:`update`; :meth:`finish` tracks what is left."""

    def __init__(self) -> None:
        self.histogram = np.zeros(NUM_BINS, dtype=np.int64)  # voiced frames per 10-cent bin
        self.num_frames = 0
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._window = int(WINDOW_SECONDS * SAMPLE_RATE)

    def update(self, mono: np.ndarray) -> None:
        self._pending.append(mono.astype(np.float64))
        self._pending_samples += mono.shape[0]
        while self._pending_samples >= self._window:
            joined = np.concatenate(self._pending)
            self._track(joined[: self._window])
            rest = joined[self._window:]
            self._pending, self._pending_samples = [rest], rest.shape[0]

    def finish(self) -> None:
        if self._pending_samples:
            self._track(np.concatenate(self._pending))
        self._pending, self._pending_samples = [], 0

    def _track(self, samples: np.ndarray) -> None:
        import parselmouth

        # Praat needs three periods of the floor in a window; a shorter piece has no frame.
        if samples.shape[0] < 3.0 / F0_FLOOR_HZ * SAMPLE_RATE:
            return
        pitch = parselmouth.Sound(samples, SAMPLE_RATE).to_pitch_ac(
            time_step=TIME_STEP_SECONDS, pitch_floor=F0_FLOOR_HZ, pitch_ceiling=F0_CEILING_HZ)
        f0 = pitch.selected_array["frequency"]
        self.num_frames += f0.shape[0]
        voiced = f0[f0 > 0]
        bins = np.floor(1200 * np.log2(voiced / F0_FLOOR_HZ) / CENTS_PER_BIN).astype(np.int64)
        self.histogram += np.bincount(np.clip(bins, 0, NUM_BINS - 1), minlength=NUM_BINS)

    def voiced_fraction(self) -> float | None:
        return None if not self.num_frames else float(self.histogram.sum() / self.num_frames)

    def range_hz(self) -> tuple[float | None, float | None]:
        return range_of(self.histogram)


def range_of(histogram: np.ndarray) -> tuple[float | None, float | None]:
    """(low, high): the centres of the bins holding the 1st and 99th percentiles of the voiced frames."""
    total = int(histogram.sum())
    if not total:
        return None, None
    cumulative = np.cumsum(histogram)
    edges = bin_edges_hz()
    centres = np.sqrt(edges[:-1] * edges[1:])
    low, high = (int(np.searchsorted(cumulative, p / 100.0 * total)) for p in RANGE_PERCENTILES)
    return float(centres[low]), float(centres[min(high, histogram.size - 1)])
