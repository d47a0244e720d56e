"""Resampling a feature sequence from one frame grid onto another.

All methods take ``features`` shaped ``(S, D)`` on the source grid and return ``(target_len, D)`` on the
target grid; both grids start at t = 0. Indices and weights are computed in exact integer arithmetic from
the reduced period ratio ``su : tu`` (source : target), so no float frame shift is ever involved.

``area`` is the box-overlap average that Amphion computes by repeat-then-average::

    source frames   |----- x0 -----|----- x1 -----|----- x2 -----|      (su units each)
    target frames   |-- y0 --|-- y1 --|-- y2 --|-- y3 --|                (tu units each)
    y1 = (overlap(y1, x0) * x0 + overlap(y1, x1) * x1) / tu

Amphion materialises the ``su``-fold repeated sequence (O(S * su * D) memory); here each output frame
gathers the at most ``ceil(tu / su) + 1`` source frames it overlaps, in O(target_len * D).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from svcprep.align.grid import FrameGrid, GridRatio, format_rate, grid_ratio, target_frames_covered
from svcprep.errors import AlignmentError

METHODS = ("area", "nearest", "linear", "repeat")
AVERAGING_METHODS = ("area", "linear")  # they mix neighbouring frames: meaningless for integer codes


def align_features(
    features: np.ndarray,
    *,
    source_hop: int,
    source_sample_rate: int,
    target_hop: int,
    target_sample_rate: int,
    target_len: int,
    method: str = "area",
    tolerance: int = 4,
) -> np.ndarray:
    """Map ``features`` ``(S, D)`` from the source grid onto ``target_len`` frames of the target grid.

    Returns ``(target_len, D)`` in the input's dtype (1-D input gives 1-D output). When the features
    cover at most ``tolerance`` frames fewer than ``target_len`` the last frame is repeated (never zeros);
    a larger shortfall, or more than ``tolerance`` frames too many, raises :class:`AlignmentError`.
    """
    if method not in METHODS:
        raise AlignmentError(f"unknown alignment method {method!r}; choose one of {', '.join(METHODS)}")
    x = np.asarray(features)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    if x.ndim != 2:
        raise AlignmentError(f"features must be (frames, dim); got shape {x.shape}")
    if target_len < 0:
        raise AlignmentError(f"target_len must be >= 0, got {target_len}")
    source = FrameGrid(source_hop, source_sample_rate)
    target = FrameGrid(target_hop, target_sample_rate)
    check_coverage(x.shape[0], source, target, target_len, tolerance)
    is_float = np.issubdtype(x.dtype, np.floating)
    if not is_float and method in AVERAGING_METHODS:
        raise AlignmentError(
            f"method {method!r} averages frames, which is meaningless for {x.dtype} features "
            "(e.g. codec codes); use method 'nearest' or 'repeat'"
        )
    if target_len == 0:
        out = np.empty((0, x.shape[1]), dtype=x.dtype)
    else:
        out = _METHOD_FUNCS[method](x, grid_ratio(source, target), target_len)
    return out[:, 0] if squeeze else out


def check_coverage(
    num_source_frames: int, source: FrameGrid, target: FrameGrid, target_len: int, tolerance: int
) -> None:
    """Raise :class:`AlignmentError` unless the source covers ``target_len`` frames within ``tolerance``."""
    covered = target_frames_covered(num_source_frames, source, target)
    if num_source_frames == 0 and target_len > 0:
        raise AlignmentError("features have 0 frames; nothing to align")
    if target_len - covered <= tolerance and covered - target_len <= tolerance:
        return
    have_s = float(source.seconds(num_source_frames))
    need_s = float(target.seconds(target_len))
    if covered < target_len:
        what = f"{target_len - covered} target frames short"
    else:
        what = f"{covered - target_len} target frames over"
    ratio = have_s / need_s if need_s else float("inf")
    raise AlignmentError(
        f"features cover {have_s:.3f} s ({num_source_frames} frames at {format_rate(source.frame_rate)} Hz) "
        f"but the target needs {need_s:.3f} s ({target_len} frames at {format_rate(target.frame_rate)} Hz): "
        f"{what}, tolerance {tolerance}. Covered/needed = {ratio:.3f}: the source sample rate or hop is "
        f"probably wrong (source grid {source.hop_length} @ {source.sample_rate} Hz), or the features were "
        "made from different or truncated audio"
    )


def _as_compute(x: np.ndarray) -> np.ndarray:
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


def _weighted_gather(x: np.ndarray, index: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """``out[i] = sum_k weight[i, k] * x[index[i, k]]`` for ``index``/``weight`` shaped ``(n, K)``.

    ``weight=None`` means a plain gather of ``index[:, 0]``. The weighted sum runs in one fused pass
    (torch's ``embedding_bag``), which keeps ``area`` near the cost of copying its output.
    """
    if weight is None:
        return x[index[:, 0]]
    import torch

    xc = _as_compute(x)
    out = torch.nn.functional.embedding_bag(
        torch.from_numpy(index),
        torch.from_numpy(np.ascontiguousarray(xc)),
        per_sample_weights=torch.from_numpy(weight.astype(xc.dtype)),
        mode="sum",
    ).numpy()
    return out.astype(x.dtype, copy=False)


def area_taps(num_source_frames: int, ratio: GridRatio, target_len: int,
              frames: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and overlap weights ``(n, K)`` of the box-overlap average, exact integers / tu, for target
    ``frames`` (default: all ``target_len``).

    Output frames past the covered span repeat the last covered frame's taps.
    """
    su, tu = ratio.source_units, ratio.target_units
    covered = min(target_len, (num_source_frames * su) // tu)
    if covered == 0:
        raise AlignmentError(
            f"features ({num_source_frames} frames) cover less than one target frame; the box average is undefined"
        )
    i = np.minimum(_frames(target_len, frames), covered - 1)
    lo, hi = i * tu, (i + 1) * tu
    first = lo // su
    num_taps = -(-tu // su) + 1
    j = first[:, None] + np.arange(num_taps, dtype=np.int64)[None, :]
    overlap = np.minimum(hi[:, None], (j + 1) * su) - np.maximum(lo[:, None], j * su)
    overlap = np.clip(overlap, 0, None)
    # Drop tap columns that never carry weight (e.g. integer ratios with aligned boundaries): decided on the taps
    # of every frame, so that a range of frames gathers exactly as the whole sequence does.
    used = _used_tap_columns(ratio, num_taps)
    j, overlap = j[:, used], overlap[:, used]
    j = np.minimum(j, num_source_frames - 1)
    return j, overlap / tu


def _frames(target_len: int, frames: np.ndarray | None) -> np.ndarray:
    return np.arange(target_len, dtype=np.int64) if frames is None else np.asarray(frames, dtype=np.int64)


def _used_tap_columns(ratio: GridRatio, num_taps: int) -> np.ndarray:
    """Which tap columns carry weight for some target frame (the pattern repeats every ``su`` frames)."""
    su, tu = ratio.source_units, ratio.target_units
    i = np.arange(su, dtype=np.int64)
    lo, hi = i * tu, (i + 1) * tu
    j = (lo // su)[:, None] + np.arange(num_taps, dtype=np.int64)[None, :]
    overlap = np.minimum(hi[:, None], (j + 1) * su) - np.maximum(lo[:, None], j * su)
    return (overlap > 0).any(axis=0)


def _area_taps(num_source: int, ratio: GridRatio, target_len: int, frames: np.ndarray | None):
    index, weight = area_taps(num_source, ratio, target_len, frames)
    return (index, None) if index.shape[1] == 1 else (index, weight)


def _round_half_even(num: np.ndarray, den: int) -> np.ndarray:
    """Exact ``round(num / den)`` with ties to even, as ``torch.round`` / ``np.round`` do."""
    q, r = np.divmod(num, den)
    up = (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
    return q + up


def _nearest_taps(num_source: int, ratio: GridRatio, target_len: int, frames: np.ndarray | None):
    # DDSP-SVC: index_i = round(i * target_period / source_period), clamped to the last frame.
    i = _frames(target_len, frames)
    return np.minimum(_round_half_even(i * ratio.target_units, ratio.source_units), num_source - 1)[:, None], None


def _linear_taps(num_source: int, ratio: GridRatio, target_len: int, frames: np.ndarray | None):
    su, tu = ratio.source_units, ratio.target_units
    i = _frames(target_len, frames)
    first, rem = np.divmod(i * tu, su)
    last = num_source - 1
    rem = np.where(first >= last, 0, rem)
    first = np.minimum(first, last)
    index = np.stack([first, np.minimum(first + 1, last)], axis=1)
    frac = rem / su
    return index, np.stack([1.0 - frac, frac], axis=1)


def _repeat_taps(num_source: int, ratio: GridRatio, target_len: int, frames: np.ndarray | None):
    # so-vits-svc: F.interpolate(size=target_len, mode="nearest") on the frame axis, in exact integers.
    return ((_frames(target_len, frames) * num_source) // target_len)[:, None], None


def _method_func(taps: Callable) -> Callable[[np.ndarray, GridRatio, int], np.ndarray]:
    def apply(x: np.ndarray, ratio: GridRatio, target_len: int) -> np.ndarray:
        return _weighted_gather(x, *taps(x.shape[0], ratio, target_len, None))

    return apply


_TAPS: dict[str, Callable] = {"area": _area_taps, "nearest": _nearest_taps, "linear": _linear_taps,
                              "repeat": _repeat_taps}


def align_rows(
    block: np.ndarray,
    block_start: int,
    *,
    num_source_frames: int,
    source: FrameGrid,
    target: FrameGrid,
    target_len: int,
    frames: range,
    method: str = "area",
) -> np.ndarray:
    """Target ``frames`` of what :func:`align_features` gives for the whole sequence, from the source frames
    ``[block_start, block_start + len(block))`` (a file aligned piece by piece); the block must hold every source
    frame those target frames read (:func:`source_frames_read` says which)."""
    index, weight = _TAPS[method](num_source_frames, grid_ratio(source, target), target_len,
                                  np.arange(frames.start, frames.stop, dtype=np.int64))
    local = index - block_start
    if local.size and (local.min() < 0 or local.max() >= block.shape[0]):
        raise AlignmentError(f"source frames {int(index.min())}..{int(index.max())} are not all in the block "
                             f"[{block_start}, {block_start + block.shape[0]})")
    squeeze = block.ndim == 1
    x = block[:, None] if squeeze else block
    out = _weighted_gather(x, local, weight)
    return out[:, 0] if squeeze else out


def source_frames_read(*, num_source_frames: int, source: FrameGrid, target: FrameGrid, target_len: int,
                       frames: range, method: str = "area") -> tuple[int, int]:
    """``[first, last]`` source frames that target ``frames`` read."""
    index, _ = _TAPS[method](num_source_frames, grid_ratio(source, target), target_len,
                             np.arange(frames.start, frames.stop, dtype=np.int64))
    return int(index.min()), int(index.max())


_METHOD_FUNCS: dict[str, Callable[[np.ndarray, GridRatio, int], np.ndarray]] = {
    name: _method_func(taps) for name, taps in _TAPS.items()}
