"""Frame grids and exact conversions between them.

A feature stream is a grid: frame ``j`` covers samples ``[j * hop_length, (j + 1) * hop_length)`` at
``sample_rate``. Periods are kept as :class:`fractions.Fraction` seconds so that no float frame shift ever
enters the arithmetic (``0.01333 * 24000 = 319.92``, not 320).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class FrameGrid:
    """A uniform frame grid: ``hop_length`` samples per frame at ``sample_rate`` Hz."""

    hop_length: int
    sample_rate: int

    def __post_init__(self) -> None:
        if int(self.hop_length) != self.hop_length or self.hop_length <= 0:
            raise ValueError(f"hop_length must be a positive integer, got {self.hop_length!r}")
        if int(self.sample_rate) != self.sample_rate or self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {self.sample_rate!r}")

    @property
    def period_seconds(self) -> Fraction:
        return Fraction(self.hop_length, self.sample_rate)

    @property
    def frame_rate(self) -> Fraction:
        """Frames per second, exact."""
        return Fraction(self.sample_rate, self.hop_length)

    def seconds(self, num_frames: int) -> Fraction:
        return num_frames * self.period_seconds


@dataclass(frozen=True)
class GridRatio:
    """Source and target periods in one integer unit, divided by their gcd.

    ``source_units : target_units`` is ``source period : target period`` in lowest terms; e.g. Whisper
    (320 @ 16 kHz) against a 24 kHz / 256 mel is ``15 : 8``.
    """

    source_units: int
    target_units: int

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.source_units, self.target_units)


def grid_ratio(source: FrameGrid, target: FrameGrid) -> GridRatio:
    """Exact ratio of the source period to the target period, as coprime integers."""
    ratio = source.period_seconds / target.period_seconds
    return GridRatio(ratio.numerator, ratio.denominator)


def source_hop_in_target_samples(source: FrameGrid, target: FrameGrid) -> Fraction:
    """The source hop expressed in samples of the target rate (may be fractional)."""
    return source.period_seconds * target.sample_rate


def target_frames_covered(num_source_frames: int, source: FrameGrid, target: FrameGrid) -> int:
    """How many whole target frames ``num_source_frames`` source frames cover (both grids start at t=0)."""
    r = grid_ratio(source, target)
    return (num_source_frames * r.source_units) // r.target_units


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def format_rate(rate: Fraction) -> str:
    """``75`` for integers, ``93.75`` for exact decimals, else a rounded float."""
    if rate.denominator == 1:
        return str(rate.numerator)
    value = float(rate)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == rate else f"{value:.4f}"


__all__ = [
    "FrameGrid",
    "GridRatio",
    "grid_ratio",
    "source_hop_in_target_samples",
    "target_frames_covered",
    "ceil_div",
    "format_rate",
]
