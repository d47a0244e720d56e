"""Frame-grid arithmetic and feature alignment (pure numpy, no I/O)."""

from svcprep.align.grid import FrameGrid, GridRatio, grid_ratio, source_hop_in_target_samples
from svcprep.align.methods import METHODS, align_features, check_coverage

__all__ = [
    "FrameGrid",
    "GridRatio",
    "grid_ratio",
    "source_hop_in_target_samples",
    "METHODS",
    "align_features",
    "check_coverage",
]
