"""Frame-grid arithmetic and feature alignment: no I/O (numpy, and torch's fused gather for weighted methods)."""

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
