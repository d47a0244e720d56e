"""svcprep's extractors against the reference library run as its users run it (transformers' feature extractor +
model, one clip at a time), including clips batched with a much louder or longer mate."""

import numpy as np
import pytest
import torch

from svcprep import load_extractor
from tests.conftest import synthetic_audio

ATOL = 1e-4  # float32 on both sides; the same ops in another order


def whisper_reference(path):
    from transformers import WhisperFeatureExtractor, WhisperModel

    return WhisperFeatureExtractor.from_pretrained(str(path)), WhisperModel.from_pretrained(str(path)).get_encoder()


def whisper_full_window(path, clip, layer):
    """transformers' own path: 30 s padded log-mel, the encoder at its native 1500 positions."""
    features, encoder = whisper_reference(path)
    mel = features(clip, sampling_rate=features.sampling_rate, return_tensors="pt").input_features
    with torch.inference_mode():
        out = encoder(mel, output_hidden_states=True)
    hidden = out.last_hidden_state if layer == "final" else out.hidden_states[layer]
    num_frames = -(-(len(clip) // features.hop_length) // 2)
    return hidden[0, :num_frames].numpy()


def whisper_trimmed(path, clip, layer):
    """The same pieces on an unpadded log-mel: transformers' features of this clip alone, the encoder's convs,
    its first positional embeddings and its layers, with nothing to mask."""
    features, encoder = whisper_reference(path)
    mel = features(clip, sampling_rate=features.sampling_rate, return_tensors="pt", padding="longest").input_features
    assert mel.shape[-1] == len(clip) // features.hop_length
    with torch.inference_mode():
        x = torch.nn.functional.gelu(encoder.conv2(torch.nn.functional.gelu(encoder.conv1(mel)))).transpose(1, 2)
        x = x + encoder.embed_positions.weight[: x.shape[1]]
        for block in encoder.layers[: len(encoder.layers) if layer == "final" else layer]:
            x = block(x, None)
            x = x[0] if isinstance(x, tuple) else x
        if layer == "final":
            x = encoder.layer_norm(x)
    return x[0].numpy()


@pytest.fixture(scope="module")
def loud_and_quiet():
    """Two clips 80 dB apart: a log-mel floor taken over the batch instead of per clip wipes out the quiet one."""
    return [synthetic_audio(2 * 16000 + 77, seed=1) * 1.8, synthetic_audio(16000 + 5, seed=2) * 1e-4]


@pytest.mark.parametrize("layer", ["final", 1])
@pytest.mark.parametrize("window,reference", [("full", whisper_full_window), ("trim", whisper_trimmed)])
def test_whisper_equals_transformers_alone_and_in_a_mixed_batch(tiny_models_by_name, loud_and_quiet, layer,
                                                                window, reference):
    path, _ = tiny_models_by_name["whisper"]
    extractor = load_extractor("whisper", model=path, layer=layer, window=window)
    batched = extractor.extract(loud_and_quiet)
    assert len(batched) == len(loud_and_quiet) == 2
    for clip, ours in zip(loud_and_quiet, batched, strict=True):
        expected = reference(path, clip, layer)
        assert ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=0)
        np.testing.assert_allclose(extractor.extract([clip])[0], expected, atol=ATOL, rtol=0)


def speech_reference(path, clip, sample_rate, layer, trust_remote_code=False):
    """transformers' feature extractor (its ``do_normalize``) and ``hidden_states[layer]`` / last_hidden_state."""
    from transformers import AutoFeatureExtractor, AutoModel

    features = AutoFeatureExtractor.from_pretrained(str(path))
    model = AutoModel.from_pretrained(str(path), trust_remote_code=trust_remote_code).eval()
    inputs = features(clip, sampling_rate=sample_rate, return_tensors="pt").input_values
    with torch.inference_mode():
        out = model(inputs, output_hidden_states=True)
    return (out.last_hidden_state if layer == "final" else out.hidden_states[layer])[0].numpy()


@pytest.mark.parametrize("name", ["hubert", "wavlm", "wav2vec2", "mert"])
@pytest.mark.parametrize("layer", [1, "final"])
def test_speech_models_equal_transformers_hidden_states(tiny_models_by_name, name, layer):
    path, options = tiny_models_by_name[name]
    extractor = load_extractor(name, model=path, **{**options, "layer": layer})
    rate = extractor.spec.sample_rate
    # A quiet short clip batched with a loud long one: per-clip input normalization and the conv GroupNorm
    # must each see only their own clip.
    clips = [synthetic_audio(rate + 1234, seed=5) * 0.05, synthetic_audio(3 * rate + 17, seed=6) * 1.5]
    batched = extractor.extract(clips)
    assert len(batched) == 2
    for clip, ours in zip(clips, batched, strict=True):
        expected = speech_reference(path, clip, rate, layer, trust_remote_code=name == "mert")
        assert ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, atol=ATOL, rtol=0)


def test_checkpoints_without_normalization_get_raw_audio(tiny_models_by_name, tmp_path):
    """``do_normalize: false``: the model sees the samples as they are (and that reference differs measurably
    from the normalized one, so each parity test can tell the two apart)."""
    import json
    import shutil

    source, _ = tiny_models_by_name["hubert"]
    raw = shutil.copytree(source, tmp_path / "raw")
    config = json.loads((raw / "preprocessor_config.json").read_text())
    (raw / "preprocessor_config.json").write_text(json.dumps({**config, "do_normalize": False}))
    clip = synthetic_audio(16000, seed=3)
    ours = load_extractor("hubert", model=raw).extract([clip])[0]
    np.testing.assert_allclose(ours, speech_reference(raw, clip, 16000, "final"), atol=ATOL, rtol=0)
    normalized = speech_reference(source, clip, 16000, "final")
    assert np.abs(normalized - ours).max() > 10 * ATOL
