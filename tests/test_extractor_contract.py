"""One contract, every registered extractor: exact frame counts, batch independence, dims."""

import numpy as np
import pytest

from svcprep import load_extractor
from svcprep.extractors.base import ClipTooShortError
from svcprep.extractors.registry import ENTRIES
from tests.conftest import synthetic_audio

FEATURE_EXTRACTORS = [name for name, entry in ENTRIES.items() if entry.family.loader]


@pytest.fixture(scope="module")
def loaded(tiny_models_by_name):
    cache = {}

    def get(name, **extra):
        key = (name, tuple(sorted(extra.items())))
        if key not in cache:
            path, options = tiny_models_by_name[name]
            cache[key] = load_extractor(name, model=path, **{**options, **extra})
        return cache[key]

    return get


def clip_lengths(spec):
    rf, hop = spec.receptive_field, spec.hop_length
    return [rf, rf + 1, rf + hop - 1, rf + hop, 3 * spec.sample_rate // 4 + 13, spec.sample_rate + 7 * hop + 5]


@pytest.mark.parametrize("name", FEATURE_EXTRACTORS)
def test_frame_counts_dims_and_batch_independence(loaded, name):
    extractor = loaded(name)
    spec = extractor.spec
    clips = [synthetic_audio(n, seed=i, channels=spec.channels) for i, n in enumerate(clip_lengths(spec))]
    batched = extractor.extract(clips)
    assert len(clips) >= 2
    for clip, feats in zip(clips, batched, strict=True):
        assert feats.shape == (spec.num_frames(len(clip)), spec.dim)
        alone = extractor.extract([clip])[0]
        np.testing.assert_allclose(feats, alone, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name,options", [
    ("whisper", {"window": "trim"}), ("whisper", {"layer": 1}), ("hubert", {"layer": 1}),
    ("contentvec", {"layer": "final", "proj": True}),
    ("encodec_24khz", {"output": "codes"}), ("encodec_24khz", {"output": "quantized"}),
    ("encodec_48khz", {"output": "codes"}), ("encodec_48khz", {"output": "quantized"}),
])
def test_modes_batch_exactly(loaded, name, options):
    extractor = loaded(name, **options)
    spec = extractor.spec
    clips = [synthetic_audio(n, seed=i, channels=spec.channels) for i, n in enumerate(clip_lengths(spec))]
    assert len(clips) >= 2
    for clip, feats in zip(clips, extractor.extract(clips), strict=True):
        assert feats.shape == (spec.num_frames(len(clip)), spec.dim)
        np.testing.assert_allclose(feats, extractor.extract([clip])[0], atol=1e-4, rtol=0)
    if options.get("output") == "codes":
        assert feats.dtype == np.int64


def test_digital_silence_is_not_padding(loaded):
    extractor = loaded("hubert")
    clip = synthetic_audio(16000, seed=3)
    clip[4000:9000] = 0.0  # silence inside real audio must stay audio
    with_silence = extractor.extract([clip, synthetic_audio(30000, seed=4)])[0]
    np.testing.assert_allclose(with_silence, extractor.extract([clip])[0], atol=1e-4)


@pytest.mark.parametrize("name", ["hubert", "whisper", "encodec_24khz"])
def test_too_short_clip_names_minimum_duration(loaded, name):
    extractor = loaded(name)
    with pytest.raises(ClipTooShortError, match=r"needs at least \d+ samples \(\d+\.\d ms\)"):
        extractor.extract([np.zeros(extractor.spec.receptive_field - 1, np.float32)])


def test_wrong_channel_layout_is_a_clear_error(loaded):
    from svcprep.errors import AudioLoadError

    with pytest.raises(AudioLoadError, match=r"\(num_samples, 2\)"):
        loaded("encodec_48khz").extract([np.zeros(4800, np.float32)])
    with pytest.raises(AudioLoadError, match="NaN"):
        loaded("hubert").extract([np.full(4800, np.nan, np.float32)])


def test_verify_stops_on_a_wrong_frame_prediction(loaded):
    import dataclasses

    from svcprep.errors import FrameCountError
    from svcprep.extractors.spec import ConvStackFrames

    extractor = loaded("hubert")
    right = extractor.spec
    wrong_rule = ConvStackFrames(((10, 5),) + ((3, 2),) * 4 + ((2, 2),))  # one stride-2 conv missing
    extractor.spec = dataclasses.replace(right, frames=wrong_rule)
    try:
        with pytest.raises(FrameCountError, match="does not match its config"):
            extractor.verify()
    finally:
        extractor.spec = right


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_deviates_no_more_than_transformers_own_half_run(tiny_models_by_name, dtype):
    """The bound is the reference library's own deviation in the same dtype on this CPU (AMX or not)."""
    import torch
    from transformers import HubertModel, Wav2Vec2FeatureExtractor

    path, _ = tiny_models_by_name["hubert"]
    clip = synthetic_audio(16000, seed=9)
    full = load_extractor("hubert", model=path).extract([clip])[0]
    half = load_extractor("hubert", model=path, dtype=dtype).extract([clip])[0]
    assert half.dtype == np.float32 and half.shape == full.shape
    inputs = Wav2Vec2FeatureExtractor.from_pretrained(str(path))(clip, sampling_rate=16000,
                                                                  return_tensors="pt").input_values
    reference = HubertModel.from_pretrained(str(path)).eval()
    with torch.inference_mode():
        ref_full = reference(inputs).last_hidden_state[0].numpy()
        half_dtype = getattr(torch, dtype)
        ref_half = reference.to(half_dtype)(inputs.to(half_dtype)).last_hidden_state[0].float().numpy()
    np.testing.assert_allclose(full, ref_full, atol=1e-4)  # float32: svcprep equals the reference
    ours, theirs = np.abs(half - full).mean(), np.abs(ref_half - ref_full).mean()
    assert ours <= 1.5 * theirs + 1e-6, (ours, theirs)
