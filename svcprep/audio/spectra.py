"""Spectral signals other projects train on, written from their published formulas (torch float32, CPU):
a linear magnitude spectrogram, frame RMS volume, and the NSF-HiFiGAN log-mel with a key shift."""

from __future__ import annotations

import numpy as np

from svcprep.audio.mel import mel_extractor
from svcprep.audio.presets import MelPreset


def _stft_magnitude(wav: np.ndarray, n_fft: int, hop_length: int, win_length: int, pad_left: int, pad_right: int,
                    eps: float):
    import torch

    y = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None, None]
    mode = "reflect" if max(pad_left, pad_right) < y.shape[-1] else "constant"
    y = torch.nn.functional.pad(y, (pad_left, pad_right), mode=mode)[0]
    spec = torch.stft(y, n_fft, hop_length=hop_length, win_length=win_length,
                      window=torch.hann_window(win_length), center=False, normalized=False, onesided=True,
                      return_complex=True)
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + eps)[0]


def linear_spectrogram(wav: np.ndarray, n_fft: int, hop_length: int, win_length: int, eps: float = 1e-6) -> np.ndarray:
    """``(n_fft // 2 + 1, num_samples // hop)`` float32 magnitudes; reflect pad ``(n_fft - hop) / 2`` each side,
    ``center=False`` (so-vits-svc's ``spectrogram_torch``)."""
    import torch

    pad = (n_fft - hop_length) // 2
    with torch.inference_mode():
        return _stft_magnitude(wav, n_fft, hop_length, win_length, pad, pad, eps).numpy()


def frame_rms(wav: np.ndarray, hop_length: int, num_frames: int) -> np.ndarray:
    """``(num_frames,)`` float32: RMS of hop-long windows of ``wav**2`` reflect-padded by ``hop // 2`` (left) and
    ``(hop + 1) // 2`` (right), window n covering padded samples ``[n·hop, (n+1)·hop)``."""
    squared = np.asarray(wav, dtype=np.float64) ** 2
    padded = np.pad(squared, (hop_length // 2, (hop_length + 1) // 2), mode="reflect")
    usable = padded[: num_frames * hop_length]
    if len(usable) < num_frames * hop_length:
        raise ValueError(f"{len(wav)} samples give fewer than {num_frames} windows of {hop_length}")
    return np.sqrt(usable.reshape(num_frames, hop_length).mean(axis=1)).astype(np.float32)


def keyshift_log_mel(wav: np.ndarray, preset: MelPreset, keyshift: float) -> np.ndarray:
    """NSF-HiFiGAN's ``get_mel`` with ``keyshift`` semitones: the FFT and window scaled by ``2**(k/12)``, the
    spectrum cut or zero-padded back to ``n_fft // 2 + 1`` bins and scaled by ``win / win_new``, the preset's
    filters, ``log(clamp(x, 1e-5))``. ``(T, n_mels)`` or ``(n_mels, T)`` as the preset saves mels."""
    import torch


    if keyshift == 0:
        return mel_extractor(preset)(wav)
    factor = 2 ** (keyshift / 12)
    n_fft_new = int(np.round(preset.n_fft * factor))
    win_new = int(np.round(preset.win_length * factor))
    hop = preset.hop_length
    pad_left = (win_new - hop) // 2
    pad_right = max((win_new - hop + 1) // 2, win_new - len(wav) - pad_left)
    with torch.inference_mode():
        spec = _stft_magnitude(wav, n_fft_new, hop, win_new, pad_left, pad_right, 1e-9)
        size = preset.n_fft // 2 + 1
        if spec.shape[0] < size:
            spec = torch.nn.functional.pad(spec, (0, 0, 0, size - spec.shape[0]))
        spec = spec[:size] * preset.win_length / win_new
        mel = torch.log(torch.clamp(mel_extractor(preset).filters @ spec, min=1e-5)).numpy()
    return mel if preset.time_axis == 1 else mel.T.copy()
