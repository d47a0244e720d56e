import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svcprep.errors import ConfigError
from svcprep.extractors.metadata import parse_fairseq_conv_layers
from svcprep.extractors.registry import ENTRIES, load_extractor, spec_for
from svcprep.extractors.spec import CeilFrames, ConvStackFrames, WhisperFrames

# (name, sample_rate, hop_length, frame rate) as published (REFERENCE.md §1).
PUBLISHED = [
    ("whisper", 16000, 320, 50), ("hubert", 16000, 320, 50), ("wavlm", 16000, 320, 50),
    ("wav2vec2", 16000, 320, 50), ("contentvec", 16000, 320, 50), ("mert", 24000, 320, 75),
    ("encodec_24khz", 24000, 320, 75), ("encodec_32khz", 32000, 640, 50), ("encodec_48khz", 48000, 320, 150),
    ("dac", 44100, 512, 44100 / 512),
]


@pytest.mark.parametrize("name,sample_rate,hop_length,frame_rate", PUBLISHED)
def test_published_hops(name, sample_rate, hop_length, frame_rate):
    spec = spec_for(name)
    assert (spec.sample_rate, spec.hop_length) == (sample_rate, hop_length)
    assert float(spec.grid.frame_rate) == pytest.approx(frame_rate)


def test_every_registered_name_has_a_spec():
    assert len(ENTRIES) >= 10
    for name in ENTRIES:
        assert spec_for(name).num_frames(48000) > 0


@given(st.integers(0, 2_000_000))
def test_hubert_frames_match_closed_form(num_samples):
    spec = spec_for("hubert")
    expected = (num_samples - 400) // 320 + 1 if num_samples >= 400 else 0
    assert spec.num_frames(num_samples) == expected and spec.receptive_field == 400


@given(st.integers(0, 2_000_000))
def test_whisper_and_codec_frames(num_samples):
    assert spec_for("whisper").num_frames(num_samples) == -(-(num_samples // 160) // 2)
    assert spec_for("encodec_24khz").num_frames(num_samples) == -(-num_samples // 320)


def test_conv_rule_receptive_field_is_minimal():
    rule = ConvStackFrames(((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)))
    assert rule.num_frames(rule.min_samples) == 1 and rule.num_frames(rule.min_samples - 1) == 0
    assert CeilFrames((8, 5, 4, 2)).num_frames(1) == 1
    assert WhisperFrames(160).num_frames(159) == 0 and WhisperFrames(160).num_frames(160) == 1


def test_fairseq_conv_string_parsed_without_eval():
    layers = parse_fairseq_conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2")
    assert layers == ((10, 5),) + ((3, 2),) * 4 + ((2, 2),) * 2
    with pytest.raises(ConfigError):
        parse_fairseq_conv_layers("__import__('os').system('true')")


def test_spec_from_model_dir_reads_only_config_files(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "encodec", "sampling_rate": 32000, "upsampling_ratios": [8, 5, 4, 4],
        "hidden_size": 64, "audio_channels": 1}))
    spec = spec_for("encodec_24khz", tmp_path)
    assert (spec.sample_rate, spec.hop_length, spec.dim) == (32000, 640, 64)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "hubert", "hidden_size": 32,
                                                      "conv_kernel": [10, 3], "conv_stride": [5, 2]}))
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"sampling_rate": 16000}))
    spec = spec_for("hubert", tmp_path)
    assert (spec.hop_length, spec.receptive_field, spec.dim) == (10, 20, 32)


def test_mert_rate_from_its_nonstandard_key(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"sample_rate": 24000, "hidden_size": 16,
                                                      "conv_kernel": [10, 3], "conv_stride": [5, 2]}))
    assert spec_for("mert", tmp_path).sample_rate == 24000


def test_unknown_names_and_options_are_listed():
    with pytest.raises(ConfigError, match="known:"):
        spec_for("nonexistent")
    with pytest.raises(ConfigError, match="valid:"):
        spec_for("whisper", windw="trim")


def test_metadata_only_entry_refuses_to_load():
    with pytest.raises(ConfigError, match="no feature extractor"):
        load_extractor("dac")


def test_help_and_specs_do_not_import_torch():
    code = ("import sys; from svcprep.cli.main import app; from svcprep.extractors import spec_for; "
            "spec_for('whisper'); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
