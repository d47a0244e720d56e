"""Amphion-compatible log-mel spectrograms (``utils/mel.py``), slaney filters without librosa.

reflect-pad ``(n_fft - hop) // 2`` on both sides, STFT with ``center=False`` and a hann window,
magnitude ``sqrt(re² + im² + 1e-9)``, slaney mel filters, ``log(clamp(x, 1e-5))``.
Frames: ``num_samples // hop`` (the preset requires ``n_fft - hop`` even, which makes that exact).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from svcprep.audio.presets import MelPreset
from svcprep.errors import AudioLoadError

_F_SP = 200.0 / 3  # slaney: linear below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz >= _MIN_LOG_HZ, _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-10) / _MIN_LOG_HZ) / _LOG_STEP,
                    hz / _F_SP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)), mel * _F_SP)


def htk_hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def htk_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def slaney_mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float,
                       htk: bool = False) -> np.ndarray:
    """``(n_mels, 1 + n_fft // 2)`` triangular filters with area normalisation (librosa's ``filters.mel``):
    centres evenly spaced on the Slaney mel scale, or on the HTK scale with ``htk=True`` (RMVPE's filters)."""
    to_mel, to_hz = (htk_hz_to_mel, htk_mel_to_hz) if htk else (hz_to_mel, mel_to_hz)
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_points = to_hz(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights.astype(np.float32)


class MelExtractor:
    """Log-mel of a mono clip at ``preset.sample_rate``: ``(n_mels, num_samples // hop)`` float32."""

    def __init__(self, preset: MelPreset) -> None:
        import torch

        self.preset = preset
        self.pad = (preset.n_fft - preset.hop_length) // 2
        self.filters = torch.from_numpy(
            slaney_mel_filters(preset.sample_rate, preset.n_fft, preset.n_mels, preset.fmin, preset.fmax))
        self.window = torch.hann_window(preset.win_length)

    @property
    def min_samples(self) -> int:
        return max(self.pad + 1, self.preset.hop_length)

    def __call__(self, wav: np.ndarray, chunk_frames: int = 4096) -> np.ndarray:
        """Log-mel of ``wav`` ``(num_samples,)``, computed ``chunk_frames`` frames at a time.

        Frame ``i`` reads padded samples ``[i*hop, i*hop + n_fft)`` and nothing else, so chunks give the same
        frames as one STFT over the whole clip, while the STFT's complex spectrum (the memory peak: 8 bytes per
        bin per frame) and the reflect-padded samples exist for one chunk only (only the clip's two ends are
        padded, by reflecting the chunk that holds them).
        """

        p = self.preset
        if len(wav) < self.min_samples:
            raise AudioLoadError(
                f"clip has {len(wav)} samples at {p.sample_rate} Hz; the mel needs at least {self.min_samples}")
        return self.frames(wav, 0, len(wav), 0, p.num_frames(len(wav)), chunk_frames)

    def frames(self, segment: np.ndarray, segment_start: int, num_samples: int, first: int, last: int,
               chunk_frames: int = 4096) -> np.ndarray:
        """Frames ``[first, last)`` of the log-mel of a clip of ``num_samples`` samples, from ``segment``, its
        samples ``[segment_start, segment_start + len(segment))`` (they must hold every sample those frames read).
        With ``first`` a multiple of ``chunk_frames`` the frames are computed exactly as :meth:`__call__` computes
        them for the whole clip (a file read a window at a time gets the same bits)."""
        import torch

        p = self.preset
        out = np.empty((p.n_mels, last - first), dtype=np.float32)
        y = torch.from_numpy(np.ascontiguousarray(segment, dtype=np.float32))
        with torch.inference_mode():
            for start in range(first, last, chunk_frames):
                stop = min(last, start + chunk_frames)
                piece = self._padded_span(y, segment_start, num_samples, start * p.hop_length,
                                          (stop - 1) * p.hop_length + p.n_fft)
                spec = torch.stft(piece, p.n_fft, hop_length=p.hop_length, win_length=p.win_length,
                                  window=self.window, center=False, normalized=False, onesided=True,
                                  return_complex=True)
                magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
                out[:, start - first:stop - first] = torch.log(torch.clamp(self.filters @ magnitude, min=1e-5)).numpy()
        return out if p.mel_layout == "mels_by_frames" else out.T.copy()

    def _padded_span(self, y, y_start: int, num_samples: int, begin: int, end: int):
        """Samples ``[begin, end)`` of the clip reflect-padded by ``pad`` on both sides, without padding all of it
        (``y``: the clip's samples from ``y_start`` on)."""
        import torch

        left, right = max(0, self.pad - begin), max(0, end - self.pad - num_samples)
        lo, hi = max(0, begin - self.pad), min(num_samples, end - self.pad)
        if lo < y_start or hi > y_start + len(y):
            raise ValueError(f"samples [{lo}, {hi}) are not all in the segment [{y_start}, {y_start + len(y)})")
        piece = y[lo - y_start: hi - y_start]
        if left or right:
            piece = torch.nn.functional.pad(piece[None, None], (left, right), mode="reflect")[0, 0]
        return piece


def energy_from_mel(mel: np.ndarray, time_axis: int = 1) -> np.ndarray:
    """Frame energy from a natural-log mel, Amphion's ``from_mel``: ``sqrt(sum over bins of exp(mel)**2)``.

    Computed with the same torch float32 ops as Amphion; returns ``(T,)`` float32.
    """
    import torch

    log_mel = torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))
    if time_axis == 0:
        log_mel = log_mel.T
    return (log_mel.exp() ** 2).sum(0).sqrt().numpy()


@lru_cache(maxsize=8)
def mel_extractor(preset: MelPreset) -> MelExtractor:
    """One :class:`MelExtractor` per preset and process (filters and window built once)."""
    return MelExtractor(preset)
