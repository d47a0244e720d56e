"""What a separation returns, and what may go wrong with one track (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svcprep.errors import SvcprepError

RESIDUAL = "residual"  # the mix minus the target stem
# What reading one track may raise without stopping the others (a file that cannot be decoded, NaN, too short).
TRACK_ERRORS = (SvcprepError, OSError, ValueError, RuntimeError, ArithmeticError)


@dataclass
class Normalization:
    """The published inference's optional normalisation: the mix's mono mean and standard deviation (a silent
    mix keeps a scale of 1)."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def of(cls, mix: np.ndarray) -> Normalization:
        mono = mix.mean(axis=0)
        return cls.from_moments(float(mono.mean()), float(mono.std()))

    @classmethod
    def from_moments(cls, mean: float, std: float) -> Normalization:
        return cls(mean, std if std > 0 else 1.0)
