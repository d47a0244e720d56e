"""Leading and trailing silence, found the way ``librosa.effects.trim`` finds it (so-vits-svc trims with it):
frame RMS (``frame_length`` window every ``hop_length`` samples, centred, zero-padded), in dB relative to the
loudest frame; the kept span runs from the first frame above ``-top_db`` to the end of the last one."""

from __future__ import annotations

import numpy as np


def nonsilent_span(wav: np.ndarray, top_db: float = 60.0, frame_length: int = 2048,
                   hop_length: int = 512) -> tuple[int, int]:
    """``(start, end)`` samples of mono ``wav`` to keep; ``(0, 0)`` when every frame is silent."""
    x = np.asarray(wav, dtype=np.float32)
    half = frame_length // 2
    padded = np.concatenate([np.zeros(half, np.float32), x, np.zeros(half, np.float32)])
    count = 1 + (len(padded) - frame_length) // hop_length
    squares = np.concatenate([[0.0], np.cumsum(padded.astype(np.float64) ** 2)])
    starts = np.arange(count) * hop_length
    power = np.maximum((squares[starts + frame_length] - squares[starts]) / frame_length, 0.0)  # mean |x|² per frame
    amin = 1e-10  # librosa's amplitude floor 1e-5, squared
    db = 10.0 * np.log10(np.maximum(amin, power))
    db -= 10.0 * np.log10(max(amin, float(power.max(initial=0.0))))
    loud = np.flatnonzero(db > -top_db)
    if loud.size == 0:
        return 0, 0
    return int(loud[0] * hop_length), int(min(len(x), (loud[-1] + 1) * hop_length))
