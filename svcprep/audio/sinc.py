"""Band-limited resampling by a windowed-sinc polyphase filter, the rule of torchaudio's ``Resample`` (its default
``sinc_interp_hann``, 6 zero crossings, roll-off 0.99), which some trainers feed their content encoders with
(so-vits-svc-fork resamples 44.1 kHz audio to 16 kHz this way). numpy only: torchaudio is not a dependency."""

from __future__ import annotations

import math

import numpy as np

ZERO_CROSSINGS = 6
ROLLOFF = 0.99


def sinc_kernel(from_rate: int, to_rate: int) -> tuple[np.ndarray, int, int, int]:
    """``(kernel (new, taps) float32, width, orig, new)`` for rates reduced by their gcd: output phase ``j`` of
    each block of ``new`` samples is the dot product of the kernel's row ``j`` with ``taps`` input samples starting
    at the block's ``orig``-sample offset, after ``width`` samples of zero padding."""
    gcd = math.gcd(from_rate, to_rate)
    orig, new = from_rate // gcd, to_rate // gcd
    cutoff = min(orig, new) * ROLLOFF
    width = math.ceil(ZERO_CROSSINGS * orig / cutoff)
    taps = np.arange(-width, width + orig, dtype=np.float64) / orig  # input sample offsets, in input blocks
    phases = -np.arange(new, dtype=np.float64) / new  # each output phase's offset
    t = np.clip((phases[:, None] + taps[None, :]) * cutoff, -ZERO_CROSSINGS, ZERO_CROSSINGS)
    window = np.cos(t * math.pi / ZERO_CROSSINGS / 2) ** 2
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(t == 0, 1.0, np.sin(t) / t)
    return (sinc * window * (cutoff / orig)).astype(np.float32), width, orig, new


def sinc_resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``x`` ``(num_samples,)`` or ``(num_samples, channels)`` resampled; ``ceil(num_samples · to / from)``
    samples, float32."""
    if from_rate == to_rate:
        return np.asarray(x, np.float32)
    x = np.asarray(x, np.float32)
    if x.ndim == 2:
        return np.stack([sinc_resample(x[:, c], from_rate, to_rate) for c in range(x.shape[1])], axis=1)
    kernel, width, orig, new = sinc_kernel(from_rate, to_rate)
    padded = np.concatenate([np.zeros(width, np.float32), x, np.zeros(width + orig, np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[1])[::orig]
    out = (frames @ kernel.T).reshape(-1)
    return np.ascontiguousarray(out[: -(-len(x) * new // orig)], dtype=np.float32)
