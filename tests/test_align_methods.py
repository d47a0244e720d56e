from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bench.amphion_reference import amphion_area_align
from svcprep import align_features
from svcprep.align.grid import FrameGrid, grid_ratio, target_frames_covered
from svcprep.errors import AlignmentError

SAMPLE_RATES = st.sampled_from([16000, 22050, 24000, 32000, 44100, 48000])
HOPS = st.sampled_from([80, 128, 160, 200, 240, 256, 300, 320, 441, 480, 512, 640, 960])


@st.composite
def alignment_case(draw, max_tolerance=4, multi_tap=False):
    """Random grids, a target length and a source length covering it within the tolerance.

    ``multi_tap``: only grids where some target frames straddle a source frame boundary (weighted taps,
    not a plain gather).
    """
    src = FrameGrid(draw(HOPS), draw(SAMPLE_RATES))
    tgt = FrameGrid(draw(HOPS), draw(SAMPLE_RATES))
    target_len = draw(st.integers(1, 400))
    tolerance = draw(st.integers(0, max_tolerance))
    r = grid_ratio(src, tgt)
    if multi_tap:
        assume(r.source_units % r.target_units != 0 and target_len > r.source_units // r.target_units + 1)
    # Source length whose coverage lands within [target_len - tolerance, target_len + tolerance].
    delta = draw(st.integers(-tolerance, tolerance))
    wanted = max(1, target_len + delta)
    num_source = max(1, -(-wanted * r.target_units // r.source_units))
    covered = target_frames_covered(num_source, src, tgt)
    if abs(covered - target_len) > tolerance:
        num_source = max(1, -(-target_len * r.target_units // r.source_units))
    dim = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).standard_normal((num_source, dim)).astype(np.float32)
    return src, tgt, target_len, tolerance, x


def run(method, src, tgt, target_len, tolerance, x):
    return align_features(
        x, source_hop=src.hop_length, source_sample_rate=src.sample_rate, target_hop=tgt.hop_length,
        target_sample_rate=tgt.sample_rate, target_len=target_len, method=method, tolerance=tolerance,
    )


def covers(src, tgt, x, target_len, tolerance):
    return abs(target_frames_covered(len(x), src, tgt) - target_len) <= tolerance


@settings(max_examples=300, deadline=None)
@given(st.one_of(alignment_case(), alignment_case(multi_tap=True)))
def test_area_equals_amphion_reference(case):
    src, tgt, target_len, tolerance, x = case
    assume(covers(src, tgt, x, target_len, tolerance) and target_frames_covered(len(x), src, tgt) > 0)
    r = grid_ratio(src, tgt)
    got = run("area", src, tgt, target_len, tolerance, x)
    # The formula in float64 is the exact answer; ours sums at most ceil(tu/su)+1 terms in float32.
    exact = amphion_area_align(x.astype(np.float64), target_len, r.source_units, r.target_units)
    assert got.shape == exact.shape == (target_len, x.shape[1])
    np.testing.assert_allclose(got, exact, atol=1e-5, rtol=0)
    # Amphion itself on float32 input averages tu float32 values, which drifts once tu is in the thousands.
    if r.target_units <= 1024:
        np.testing.assert_allclose(got, amphion_area_align(x, target_len, r.source_units, r.target_units),
                                   atol=1e-4, rtol=0)


@settings(max_examples=200, deadline=None)
@given(alignment_case(multi_tap=True))
def test_linear_equals_np_interp_on_frame_times(case):
    """Frame i of a grid sits at i * hop / sample_rate s; per dimension, np.interp there (ends held)."""
    src, tgt, target_len, tolerance, x = case
    assume(covers(src, tgt, x, target_len, tolerance))
    got = run("linear", src, tgt, target_len, tolerance, x)
    source_seconds = np.arange(len(x)) * src.hop_length / src.sample_rate
    target_seconds = np.arange(target_len) * tgt.hop_length / tgt.sample_rate
    expected = np.stack([np.interp(target_seconds, source_seconds, x[:, d].astype(np.float64))
                         for d in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


@settings(max_examples=200, deadline=None)
@given(alignment_case())
def test_nearest_is_ddsp_svc_rule(case):
    """DDSP-SVC: source index round(i * target period / source period) (ties to even), clamped to the end."""
    src, tgt, target_len, tolerance, x = case
    assume(covers(src, tgt, x, target_len, tolerance))
    got = run("nearest", src, tgt, target_len, tolerance, x)
    # Both periods as integer products, one float64 division: exact ties stay exact.
    position = np.arange(target_len) * float(tgt.hop_length * src.sample_rate) / (tgt.sample_rate * src.hop_length)
    np.testing.assert_array_equal(got, x[np.minimum(np.round(position).astype(np.int64), len(x) - 1)])


@settings(max_examples=200, deadline=None)
@given(num_source=st.integers(1, 300), target_len=st.integers(1, 400), seed=st.integers(0, 1000))
def test_repeat_is_so_vits_svc_length_based_nearest(num_source, target_len, seed):
    """so-vits-svc: ``F.interpolate(size=target_len, mode="nearest")`` along time, whatever the grids."""
    import torch

    x = np.random.default_rng(seed).standard_normal((num_source, 3)).astype(np.float32)
    got = align_features(x, source_hop=1, source_sample_rate=1, target_hop=1, target_sample_rate=1,
                         target_len=target_len, method="repeat", tolerance=10**6)
    # The frame index interpolated in float64: on float32 input torch computes its scale in float32 and picks
    # a neighbouring frame at a few positions (e.g. 91 -> 39 frames); svcprep uses the exact rule.
    frame_index = torch.arange(num_source, dtype=torch.float64)[None, None]
    index = torch.nn.functional.interpolate(frame_index, size=target_len, mode="nearest")[0, 0].long().numpy()
    np.testing.assert_array_equal(got, x[index])


@pytest.mark.parametrize("method", ["area", "nearest", "linear", "repeat"])
@settings(max_examples=80, deadline=None)
@given(case=alignment_case())
def test_shape_dtype_and_constant_features(method, case):
    src, tgt, target_len, tolerance, x = case
    assume(covers(src, tgt, x, target_len, tolerance) and target_frames_covered(len(x), src, tgt) > 0)
    got = run(method, src, tgt, target_len, tolerance, x)
    assert got.shape == (target_len, x.shape[1]) and got.dtype == x.dtype
    const = np.broadcast_to(np.arange(x.shape[1], dtype=np.float32), x.shape).copy()
    np.testing.assert_allclose(run(method, src, tgt, target_len, tolerance, const), const[:1].repeat(target_len, 0),
                               atol=1e-5)


@pytest.mark.parametrize("method", ["nearest", "repeat"])
@settings(max_examples=80, deadline=None)
@given(case=alignment_case())
def test_index_methods_only_return_existing_frames(method, case):
    src, tgt, target_len, tolerance, x = case
    assume(covers(src, tgt, x, target_len, tolerance))
    got = run(method, src, tgt, target_len, tolerance, x)
    rows = {row.tobytes() for row in x}
    assert all(row.tobytes() in rows for row in got)


@pytest.mark.parametrize("method", ["area", "nearest", "linear", "repeat"])
@settings(max_examples=60, deadline=None)
@given(grid=st.tuples(HOPS, SAMPLE_RATES), n=st.integers(1, 300), seed=st.integers(0, 1000))
def test_equal_grids_are_identity(method, grid, n, seed):
    x = np.random.default_rng(seed).standard_normal((n, 3)).astype(np.float32)
    g = FrameGrid(*grid)
    np.testing.assert_array_equal(run(method, g, g, n, 0, x), x)


@settings(max_examples=200, deadline=None)
@given(alignment_case(max_tolerance=0))
def test_area_preserves_mean_over_covered_span(case):
    src, tgt, target_len, _, x = case
    r = grid_ratio(src, tgt)
    # Take exactly the whole number of target frames the source covers, in whole periods of both grids.
    blocks = len(x) // r.target_units
    assume(blocks > 0)
    x = x[: blocks * r.target_units]
    n = blocks * r.source_units
    got = run("area", src, tgt, n, 0, x)
    np.testing.assert_allclose(got.mean(axis=0), x.mean(axis=0), atol=1e-4)


def test_short_within_tolerance_repeats_last_frame_not_zeros():
    x = np.arange(10, dtype=np.float32)[:, None] + 1
    got = align_features(x, source_hop=1, source_sample_rate=1, target_hop=1, target_sample_rate=1,
                         target_len=13, tolerance=3)
    np.testing.assert_array_equal(got[10:, 0], [10, 10, 10])


def test_whisper_to_amphion_mel_hand_example():
    # Whisper 320 @ 16 kHz vs mel 256 @ 24 kHz: one source frame is 15/8 mel frames.
    x = np.array([[0.0], [15.0]], dtype=np.float32)
    got = align_features(x, source_hop=320, source_sample_rate=16000, target_hop=256, target_sample_rate=24000,
                         target_len=3, tolerance=0)
    # Frame 1 spans [8, 16) in 1/120 s units: 7 units of x0, 1 unit of x1.
    np.testing.assert_allclose(got[:, 0], [0.0, 15.0 / 8, 15.0])


@pytest.mark.parametrize("num_source,target_len,word", [(40, 100, "short"), (200, 100, "over")])
def test_mismatch_beyond_tolerance_is_explained(num_source, target_len, word):
    x = np.zeros((num_source, 2), np.float32)
    with pytest.raises(AlignmentError) as info:
        align_features(x, source_hop=320, source_sample_rate=16000, target_hop=256, target_sample_rate=24000,
                       target_len=target_len)
    text = str(info.value)
    assert word in text and "s (" in text and "sample rate or hop" in text


def test_integer_codes_refuse_averaging_but_allow_nearest():
    codes = np.arange(20, dtype=np.int64).reshape(10, 2)
    kw = dict(source_hop=320, source_sample_rate=24000, target_hop=256, target_sample_rate=24000, target_len=12)
    with pytest.raises(AlignmentError, match="nearest"):
        align_features(codes, method="area", **kw)
    got = align_features(codes, method="nearest", **kw)
    assert got.dtype == np.int64 and got.shape == (12, 2)


def test_float16_input_keeps_dtype():
    x = np.random.default_rng(0).standard_normal((75, 4)).astype(np.float16)
    got = align_features(x, source_hop=320, source_sample_rate=24000, target_hop=256, target_sample_rate=24000,
                         target_len=93)
    assert got.dtype == np.float16


def test_nearest_rounds_exact_ties_to_even():
    # ratio 2:1 in target periods -> position i * 1/2 source frames; ties at odd i.
    x = np.arange(10, dtype=np.float32)[:, None]
    got = align_features(x, source_hop=2, source_sample_rate=1, target_hop=1, target_sample_rate=1,
                         target_len=20, method="nearest", tolerance=0)
    assert [int(v) for v in got[:6, 0]] == [0, 0, 1, 2, 2, 2]


def test_grid_ratio_is_exact():
    r = grid_ratio(FrameGrid(320, 16000), FrameGrid(256, 24000))
    assert (r.source_units, r.target_units) == (15, 8) and r.ratio == Fraction(15, 8)
