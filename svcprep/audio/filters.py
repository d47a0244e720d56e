"""IIR filters without scipy: a Butterworth high-pass designed by the bilinear transform (the design
``scipy.signal.butter`` makes), applied as ``lfilter`` would from rest, by FFT convolution with its impulse
response computed to where it has decayed below float64 resolution."""

from __future__ import annotations

import numpy as np


def butter_highpass(order: int, cutoff_hz: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(b, a)`` of a digital Butterworth high-pass: analog prototype poles on the left unit half-circle,
    low-to-high-pass mapping at the pre-warped cutoff, bilinear transform."""
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie in (0, {sample_rate / 2})")
    k = np.arange(-order + 1, order, 2)
    prototype = -np.exp(1j * np.pi * k / (2 * order))  # unit-cutoff analog low-pass poles
    fs = 2.0
    warped = 2 * fs * np.tan(np.pi * (2 * cutoff_hz / sample_rate) / fs)
    poles = warped / prototype  # high-pass: s -> warped / s; zeros move to the origin
    gain = 1.0 / np.real(np.prod(-prototype))
    digital_poles = (2 * fs + poles) / (2 * fs - poles)
    digital_zeros = np.ones(order)  # analog zeros at s = 0 map to z = 1
    digital_gain = gain * np.real(np.prod(2 * fs - np.zeros(order)) / np.prod(2 * fs - poles))
    b = digital_gain * np.real(np.poly(digital_zeros))
    a = np.real(np.poly(digital_poles))
    return b, a


def impulse_response(b: np.ndarray, a: np.ndarray, tolerance: float = 1e-17, max_samples: int = 1 << 22) -> np.ndarray:
    """The filter's response to a unit impulse, until its tail energy is below ``tolerance`` (relative)."""
    b, a = np.asarray(b, np.float64) / a[0], np.asarray(a, np.float64) / a[0]
    order = len(a) - 1
    length = 4096
    while True:
        h = np.zeros(length)
        state = np.zeros(order)  # direct form II transposed, from rest
        for n in range(length):
            x = 1.0 if n == 0 else 0.0
            y = b[0] * x + state[0]
            state[:-1] = state[1:] + b[1:-1] * x - a[1:-1] * y if order > 1 else state[:-1]
            state[-1] = b[-1] * x - a[-1] * y
            h[n] = y
        tail = np.sum(h[length // 2:] ** 2)
        if tail <= tolerance * np.sum(h**2) or length >= max_samples:
            return h[: length // 2] if tail <= tolerance * np.sum(h**2) else h
        length *= 2


def apply_filter(x: np.ndarray, response: np.ndarray, block: int = 1 << 17) -> np.ndarray:
    """``x`` (1-D) filtered from rest by FFT convolution with ``response``, in blocks (overlap-add): what
    ``lfilter(b, a, x)`` gives, to float64 precision. Returns float32; besides the output, memory holds one block and
    the response's tail in float64, whatever the length of ``x``."""
    n, m = len(x), len(response)
    size = 1 << int(np.ceil(np.log2(block + m - 1)))
    spectrum = np.fft.rfft(response, size)
    out = np.empty(n, dtype=np.float32)
    tail = np.zeros(m - 1)  # what earlier blocks add past their end
    for start in range(0, n, block):
        piece = np.asarray(x[start : start + block], dtype=np.float64)
        conv = np.fft.irfft(np.fft.rfft(piece, size) * spectrum, size)[: len(piece) + m - 1]
        conv[: m - 1] += tail
        out[start : start + len(piece)] = conv[: len(piece)]  # no later block reaches these samples
        tail = conv[len(piece) :]
    return out
