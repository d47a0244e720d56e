"""How far two float32 computations of the same quantity may lie apart, derived from float32 arithmetic and the
magnitudes involved, not a constant tuned on one CPU (kernels differ between CPUs: AVX2 / AVX-512 / AMX
machines sum in other orders and block sizes).

Two computations that each round as float32 may differ by the sum of their forward-error bounds. The bounds here
follow Higham, *Accuracy and Stability of Numerical Algorithms* (2nd ed.): gamma_n = n·u / (1 - n·u) for a sum
of n terms (Lemma 3.1, Section 3.1), the radix-2 FFT's ``||ΔX||₂ ≤ log₂N·η / (1 - log₂N·η) · ||X||₂`` with
``η = μ + γ₄(√2 + μ)`` (Theorem 24.2) and Parseval's ``||X||₂ = √N · ||frame||₂``.

A network's output has no closed-form bound of use; there the float32 rounding of the same network on this CPU
is measured against a float64 run (``measured_rounding``) and the other side allowed as much again per unit of
its magnitude.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

UNIT_ROUNDOFF = float(np.finfo(np.float32).eps) / 2  # u = 2^-24


def gamma(n: int | np.ndarray) -> float | np.ndarray:
    """Higham's γ_n: the relative error bound of a sum or dot product of ``n`` terms in float32."""
    nu = np.asarray(n, dtype=np.float64) * UNIT_ROUNDOFF
    return nu / (1 - nu)


def fft_relative_error(n_fft: int) -> float:
    """Higham's Theorem 24.2: ``||ΔX||₂ / ||X||₂`` of a float32 radix-2 FFT of length ``n_fft``, twiddle factors
    correctly rounded (μ = u)."""
    mu = UNIT_ROUNDOFF
    eta = mu + gamma(4) * (np.sqrt(2.0) + mu)
    levels = np.log2(n_fft)
    return float(levels * eta / (1 - levels * eta))


def stft_log_mel_bound(wav: np.ndarray, n_fft: int, hop_length: int, pad: tuple[int, int], window: np.ndarray,
                       filters: np.ndarray, clamp: float) -> tuple[np.ndarray, np.ndarray]:
    """``(bound, exact)``, both ``(frames, n_mels)``: how far two float32 computations of
    ``log(clamp(filters @ |STFT(wav)|, clamp))`` (reflect padding ``pad``, frames ``n_fft`` long every
    ``hop_length``) may differ, and the float64 value.

    One side's error, per stage: each frame's windowed samples (window rounding and product: 2u per sample), the
    FFT (Theorem 24.2, spread over the bins as the 2-norm bound allows), the magnitude (3u of |X|), the filter
    bank's dot product over its nonzero taps (γ of their count, and u for the filters' own rounding); the log
    moves the mel's absolute error ``Δ`` by at most ``Δ / max(mel - Δ, clamp)``, and rounds once more.
    """
    x = np.pad(np.asarray(wav, dtype=np.float64), pad, mode="reflect")
    frames = sliding_window_view(x, n_fft)[::hop_length] * np.asarray(window, dtype=np.float64)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))  # (frames, bins), float64
    filters = np.asarray(filters, dtype=np.float64)
    mel = magnitude @ filters.T  # (frames, n_mels)
    bin_error = (fft_relative_error(n_fft) + 2 * UNIT_ROUNDOFF) * np.sqrt(n_fft) * np.linalg.norm(frames, axis=1)
    taps = np.count_nonzero(filters, axis=1)
    one_side = (bin_error[:, None] * filters.sum(axis=1)[None, :]
                + (gamma(taps + 1)[None, :] + 4 * UNIT_ROUNDOFF) * mel)
    both = 2 * one_side
    log_exact = np.log(np.maximum(mel, clamp))
    slope = 1.0 / np.maximum(mel - both, clamp)
    bound = np.where(mel + both > clamp, both * slope, 0.0) + 2 * UNIT_ROUNDOFF * np.abs(log_exact)
    return bound, log_exact


def measured_rounding(float32_result: np.ndarray, float64_result: np.ndarray) -> float:
    """This CPU's float32 rounding of a computation, relative to its magnitude: max |f32 - f64| / max |f64|."""
    scale = float(np.max(np.abs(float64_result)))
    return float(np.max(np.abs(np.asarray(float32_result, np.float64) - float64_result))) / max(scale, 1e-30)


# A float32 network run on another CPU (other kernels, other summation orders) may round up to this many times
# what the same run rounds on this one; two such runs compared: twice that.
OTHER_KERNELS = 4


def network_bound(float32_result: np.ndarray, float64_result: np.ndarray) -> float:
    """How far two float32 runs of one network (this CPU's and a reference's) may differ: each within
    ``OTHER_KERNELS`` times this CPU's measured float32 rounding, relative to the output's magnitude. A value of
    at least one float32 ulp of the magnitude (a run that happens to round exactly here)."""
    scale = float(np.max(np.abs(float64_result)))
    rounding = max(measured_rounding(float32_result, float64_result), 2 * UNIT_ROUNDOFF)
    return 2 * OTHER_KERNELS * rounding * scale


def assert_within(actual: np.ndarray, expected: np.ndarray, bound: np.ndarray | float, what: str) -> float:
    """Every element of ``actual`` within ``bound`` of ``expected``; returns the largest share of the bound used
    (for the record: how much margin the comparison has on this CPU)."""
    difference = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), difference.shape)
    assert difference.size and np.all(np.isfinite(difference)), what
    worst = np.unravel_index(np.argmax(difference - bound), difference.shape)
    assert np.all(difference <= bound), (f"{what}: {int(np.sum(difference > bound))} of {difference.size} values "
                                         f"outside the float32 bound; worst at {worst}: "
                                         f"|{actual[worst]} - {expected[worst]}| > {bound[worst]:.3g}")
    return float(np.max(difference / np.maximum(bound, 1e-300)))
