"""Amphion's repeat-then-average alignment, written from REFERENCE.md §2 for parity tests only."""

import numpy as np


def amphion_area_align(content: np.ndarray, target_len: int, source_hop: int, target_hop: int) -> np.ndarray:
    """``source_hop``/``target_hop``: the two periods in one unit, divided by their gcd."""
    feat_dim = content.shape[1]
    source_len = min(target_len * target_hop // source_hop + 1, len(content))
    const = source_len * source_hop // target_hop * target_hop
    up_sampled = np.repeat(content, source_hop, axis=0)
    down_sampled = np.average(up_sampled[:const].reshape(-1, target_hop, feat_dim), axis=1)
    err = abs(target_len - len(down_sampled))
    if len(down_sampled) < target_len:
        end = np.repeat(down_sampled[-1][None, :], err, axis=0)
        down_sampled = np.concatenate([down_sampled, end], axis=0)
    return down_sampled[:target_len]
