"""DNSMOS (Microsoft's deep noise suppression MOS: overall, signal, background, P.808) of a stream, with the
``speechmos`` package's own ONNX models and code (extra ``quality``). DNSMOS was trained on speech: on singing it
ranks recordings (noise, reverb, distortion) more than it scores them.

The library scores 9.01 s windows one second apart and averages them; here each window is handed to the library
as soon as its samples have passed (a window alone is one library call on exactly that window), so a file of any
length needs about 9 s of 16 kHz audio in memory and the means are the library's. A clip shorter than one window
goes to the library whole (it repeats the clip to a window's length itself). Samples beyond ±1 (a resampled
full-scale clip can overshoot) are clipped, which the library otherwise refuses.
"""

from __future__ import annotations

import numpy as np

from svcprep.errors import ConfigError

SAMPLE_RATE = 16000
WINDOW_SECONDS = 9.01
KEYS = {"ovrl_mos": "dnsmos_ovrl", "sig_mos": "dnsmos_sig", "bak_mos": "dnsmos_bak", "p808_mos": "dnsmos_p808"}


def require_dnsmos() -> None:
    """Before any file is read: the extra is installed."""
    try:
        import speechmos.dnsmos  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"DNSMOS needs the extra 'quality' ({exc}): pip install 'svcprep[quality]'",
                          "dnsmos") from exc


def _score(segment: np.ndarray) -> dict[str, float]:
    from speechmos import dnsmos

    return dnsmos.run(np.clip(segment, -1.0, 1.0), SAMPLE_RATE)


class StreamingDnsmos:
    """Feed mono 16 kHz float blocks with :meth:`update`; :meth:`scores` once the stream has ended."""

    def __init__(self) -> None:
        self._window = int(WINDOW_SECONDS * SAMPLE_RATE)
        self._buffer = np.zeros(0)
        self._buffer_start = 0  # sample index of _buffer[0]
        self._received = 0
        self._next_window = 0
        self._scores: dict[str, list[float]] = {key: [] for key in KEYS}

    def update(self, mono: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, mono.astype(np.float64)])
        self._received += mono.shape[0]
        while self._next_window * SAMPLE_RATE + self._window <= self._received:
            start = self._next_window * SAMPLE_RATE - self._buffer_start
            for key, value in _score(self._buffer[start: start + self._window]).items():
                if key in self._scores:
                    self._scores[key].append(value)
            self._next_window += 1
            drop = self._next_window * SAMPLE_RATE - self._buffer_start
            self._buffer, self._buffer_start = self._buffer[drop:], self._buffer_start + drop

    def scores(self) -> dict[str, float | None]:
        if not self._received:
            return {column: None for column in KEYS.values()}
        num_windows = int(np.floor(self._received / SAMPLE_RATE) - WINDOW_SECONDS) + 1
        if self._received < self._window or num_windows <= 0:
            whole = _score(self._buffer)  # a short clip: the buffer holds all of it
            return {column: float(whole[key]) for key, column in KEYS.items()}
        return {column: float(np.mean(self._scores[key][:num_windows])) for key, column in KEYS.items()}
