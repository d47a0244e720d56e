"""Any length: chunk plans cover every frame once; chunked runs stay close to unchunked ones."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svcprep import load_extractor
from svcprep.extractors.base import plan_chunks
from svcprep.extractors.registry import spec_for
from tests.conftest import synthetic_audio


@settings(max_examples=200, deadline=None)
@given(num_samples=st.integers(400, 3_000_000), chunk_frames=st.integers(10, 3000), overlap=st.integers(0, 200))
def test_chunk_plan_covers_each_frame_exactly_once(num_samples, chunk_frames, overlap):
    spec = spec_for("hubert")
    if chunk_frames <= 2 * overlap:
        return
    kept = []
    for chunk in plan_chunks([num_samples], spec, chunk_frames, overlap):
        assert chunk.start % spec.hop_length == 0
        assert spec.num_frames(chunk.stop - chunk.start) >= chunk.keep_to
        first = chunk.start // spec.hop_length + chunk.keep_from
        kept.extend(range(first, first + chunk.keep_to - chunk.keep_from))
    assert kept == list(range(spec.num_frames(num_samples)))


@pytest.mark.parametrize("name", ["hubert", "wavlm"])
def test_chunked_run_matches_unchunked_within_measured_bound(tiny_models_by_name, name):
    path, options = tiny_models_by_name[name]
    clip = synthetic_audio(16000 * 20, seed=1)
    whole = load_extractor(name, model=path, chunk_seconds=None, **options).extract([clip])[0]
    chunked = load_extractor(name, model=path, chunk_seconds=6, overlap_seconds=2, **options).extract([clip])[0]
    assert chunked.shape == whole.shape
    # Measured on these random tiny models (unit-std features): max 0.03-0.06, mean ~0.004.
    diff = np.abs(chunked - whole)
    assert diff.max() < 0.1 * whole.std() and diff.mean() < 0.01 * whole.std()


def test_clip_within_one_window_is_not_chunked(tiny_models_by_name):
    path, options = tiny_models_by_name["hubert"]
    clip = synthetic_audio(16000 * 5, seed=2)
    a = load_extractor("hubert", model=path, chunk_seconds=None, **options).extract([clip])[0]
    b = load_extractor("hubert", model=path, chunk_seconds=6, **options).extract([clip])[0]
    np.testing.assert_array_equal(a, b)


def test_whisper_long_audio_is_consecutive_windows_not_truncated(tiny_models_by_name):
    path, _ = tiny_models_by_name["whisper"]
    extractor = load_extractor("whisper", model=path)
    clip = synthetic_audio(16000 * 65 + 999, seed=5)
    feats = extractor.extract([clip])[0]
    assert feats.shape[0] == extractor.spec.num_frames(len(clip)) == 3253
    second_window = extractor.extract([clip[480000:960000]])[0]
    np.testing.assert_allclose(feats[1500:3000], second_window, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hubert", "whisper", "encodec_24khz", "contentvec"])
def test_twenty_minutes(tiny_models_by_name, name):
    path, options = tiny_models_by_name[name]
    extractor = load_extractor(name, model=path, **options)
    clip = synthetic_audio(extractor.spec.sample_rate * 60 * 20, seed=6)
    feats = extractor.extract([clip])[0]
    assert feats.shape == (extractor.spec.num_frames(len(clip)), extractor.spec.dim)
    assert np.isfinite(feats).all()
