"""Separation against the reference code's outputs (tests/fixtures/roformer_msst: the Music-Source-Separation-
Training models and ``demix``, run unmodified on tiny random-weight checkpoints), the published configs' key layout,
and the rules a user relies on: batched equals alone, streamed equals whole, bad input is one clear error."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from svcprep.errors import AudioLoadError, CheckpointError, ConfigError
from svcprep.separation.chunking import ChunkRule
from svcprep.separation.loading import build_network
from svcprep.separation.msst_config import separator_config
from svcprep.separation.roformer import mel_band_membership
from svcprep.separation.separator import load_separator

FIXTURES = Path(__file__).parent / "fixtures" / "roformer_msst"
MODELS = ("bs_roformer", "mel_roformer")
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
TOLERANCE = 1e-5  # the bound against the reference's float32 outputs


def cases(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}_cases.npz") as data:
        return {k: data[k] for k in data.files}


def separator(name: str, **options):
    return load_separator(FIXTURES / f"{name}.ckpt", device="cpu", **options)


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: f"{c['model']}-{c['seconds']}s-ov{c['num_overlap']}")
def test_demix_equals_the_reference(case):
    data = cases(case["model"])
    out = separator(case["model"], num_overlap=case["num_overlap"]).separate(data[case["input"]])
    assert set(out) == {"vocals"}
    reference = data[case["vocals"]]
    assert out["vocals"].shape == reference.shape == (2, case["samples"])
    assert np.abs(out["vocals"] - reference).max() <= TOLERANCE


@pytest.mark.parametrize("name", MODELS)
def test_one_chunk_forward_equals_the_reference(name):
    data = cases(name)
    out = separator(name).run_chunks(data["chunk_in"][None])  # (batch, stems, channels, samples)
    assert out.shape == (1, 1, 2, 44100)
    # the reference's Mel-Band RoFormer drops the stem axis of a one-stem model: (1, 2, 44100) there
    assert np.abs(out.reshape(data["chunk_out"].shape) - data["chunk_out"]).max() <= TOLERANCE


@pytest.mark.parametrize("name", MODELS)
def test_chunks_of_several_tracks_batched_equal_one_at_a_time(name):
    data = cases(name)
    mixes = [data["in_2.7s"], data["in_0.4s"], data["in_0.8s"]]
    batched = separator(name, batch_size=5).separate_many(mixes)
    for mix, out in zip(mixes, batched, strict=True):
        alone = separator(name, batch_size=1).separate(mix)["vocals"]
        assert np.abs(out["vocals"] - alone).max() <= TOLERANCE
    reference = data["vocals_2.7s_ov2"]
    assert np.abs(batched[0]["vocals"] - reference).max() <= TOLERANCE


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 60000), min_size=1, max_size=6))
def test_a_track_fed_in_blocks_of_any_size_equals_the_reference(block_sizes):
    data = cases("bs_roformer")
    mix = data["in_2.7s"]
    sep = separator("bs_roformer", batch_size=3)
    bounds = np.cumsum([0, *block_sizes])
    blocks = [mix[:, a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if a < mix.shape[1]]
    if bounds[-1] < mix.shape[1]:
        blocks.append(mix[:, bounds[-1]:])
    parts: list[np.ndarray] = []
    done: list[str] = []
    sep.stream([("song", blocks, None)], lambda key: parts.append, done.append)
    out = np.concatenate(parts, axis=-1)[0]
    assert done == ["song"]
    assert np.abs(out - data["vocals_2.7s_ov2"]).max() <= TOLERANCE


def test_the_fade_window_is_the_references():
    # the reference's own docstring: a window of 10 with fades of 3 is [0, .5, 1, ..., 1, .5, 0]
    rule = ChunkRule(chunk_size=30, num_overlap=2)
    assert rule.fade_size == 3
    window = rule.window(first=False, last=False)
    assert window[:3].tolist() == [0.0, 0.5, 1.0] and window[-3:].tolist() == [1.0, 0.5, 0.0]
    assert rule.window(first=True, last=False)[:3].tolist() == [1.0, 1.0, 1.0]
    assert rule.window(first=False, last=True)[-3:].tolist() == [1.0, 1.0, 1.0]
    assert rule.window(first=True, last=True)[-3:].tolist() == [1.0, 0.5, 0.0]  # the first-chunk rule wins


@pytest.mark.parametrize(("sample_rate", "n_fft", "num_bands"), [(44100, 2048, 60), (44100, 2048, 8),
                                                                  (48000, 2048, 128), (44100, 4096, 60)])
def test_mel_bands_are_librosas_filters_made_binary(sample_rate, n_fft, num_bands):
    filters = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=num_bands)
    filters[0, 0] = filters[-1, -1] = 1.0
    assert np.array_equal(mel_band_membership(sample_rate, n_fft, num_bands), filters > 0)


@pytest.mark.parametrize(("config", "published"), [("full_size_bs_roformer.yaml", "viperx_bs_roformer_317"),
                                                   ("full_size_mel_band_roformer.yaml", "kj_mel_band_roformer")])
def test_the_published_full_size_configs_build_exactly_their_checkpoints_keys(config, published):
    expected = json.loads((FIXTURES / "full_size_keys.json").read_text())[published]
    network = build_network(separator_config(FIXTURES / config)).eval()
    assert {k: list(v.shape) for k, v in network.state_dict().items()} == expected
    with torch.inference_mode():
        out = network(torch.randn(1, 2, 4410))
    assert out.shape == (1, 1, 2, 4410) and torch.isfinite(out).all()


@pytest.mark.slow
@pytest.mark.parametrize(("config", "published"), [("full_size_bs_roformer.yaml", "viperx_bs_roformer_317"),
                                                   ("full_size_mel_band_roformer.yaml", "kj_mel_band_roformer")])
def test_full_size_random_checkpoints_load_and_separate_a_chunk(tmp_path, config, published):
    shapes = json.loads((FIXTURES / "full_size_keys.json").read_text())[published]
    generator = torch.Generator().manual_seed(0)
    torch.save({k: torch.randn(s, generator=generator) * 0.02 for k, s in shapes.items()}, tmp_path / "model.ckpt")
    sep = load_separator(tmp_path / "model.ckpt", FIXTURES / config, device="cpu")
    # a published chunk is 8 s (minutes of CPU at full size): half a second of it through the loaded network
    mix = np.random.default_rng(0).standard_normal((1, 2, 22050)).astype(np.float32) * 0.1
    out = sep.run_chunks(mix)
    assert out.shape == (1, 1, 2, 22050) and np.isfinite(out).all()


def test_residual_is_the_mix_minus_the_target_and_mono_is_duplicated():
    data = cases("mel_roformer")
    sep = separator("mel_roformer")
    mono = data["in_0.8s"][:1]
    out = sep.separate(mono, residual=True)
    stereo = sep.separate(np.repeat(mono, 2, axis=0))
    assert out["vocals"].shape == (2, mono.shape[1])
    assert np.array_equal(out["vocals"], stereo["vocals"])
    assert np.array_equal(out["residual"], np.repeat(mono, 2, axis=0) - out["vocals"])


def test_normalize_in_the_config_scales_the_mix_by_its_mono_mean_and_std(tmp_path):
    data = yaml.load((FIXTURES / "bs_roformer.yaml").read_text(), Loader=yaml.UnsafeLoader)  # our own fixture
    data["inference"]["normalize"] = True
    (tmp_path / "norm.yaml").write_text(yaml.dump(data))
    mix = cases("bs_roformer")["in_0.8s"] * 0.3 + 0.01
    mono = mix.mean(axis=0)
    mean, std = mono.mean(), mono.std()
    plain = separator("bs_roformer").separate((mix - mean) / std)["vocals"] * std + mean
    normalized = load_separator(FIXTURES / "bs_roformer.ckpt", tmp_path / "norm.yaml", device="cpu").separate(mix)
    assert np.abs(normalized["vocals"] - plain).max() <= TOLERANCE


def test_silence_separates_to_silence_and_bad_mixes_are_one_clear_error():
    sep = separator("bs_roformer")
    silent = sep.separate(np.zeros((2, 30000), np.float32))["vocals"]
    assert np.isfinite(silent).all() and not silent.any()
    with pytest.raises(AudioLoadError, match="at least 1025"):
        sep.separate(np.zeros((2, 1000), np.float32))
    bad = np.zeros((2, 30000), np.float32)
    bad[1, 77] = np.nan
    with pytest.raises(AudioLoadError, match="NaN"):
        sep.separate(bad)


def test_a_checkpoint_that_does_not_fit_its_config_names_the_first_mismatching_key():
    with pytest.raises(CheckpointError, match="final_norm.gamma is missing"):
        load_separator(FIXTURES / "mel_roformer.ckpt", FIXTURES / "bs_roformer.yaml", device="cpu")
    with pytest.raises(CheckpointError, match=r"rotary_embed.freqs has shape \(8,\), the config builds \(32,\)"):
        load_separator(FIXTURES / "bs_roformer.ckpt", FIXTURES / "full_size_bs_roformer.yaml", device="cpu")


def test_an_unknown_architecture_is_refused(tmp_path):
    (tmp_path / "mdx.yaml").write_text("audio: {sample_rate: 44100}\nmodel: {num_channels: 2, num_blocks: 11}\n"
                                       "training: {instruments: [vocals, other]}\n")
    with pytest.raises(ConfigError, match="unknown separator architecture"):
        load_separator(FIXTURES / "bs_roformer.ckpt", tmp_path / "mdx.yaml", device="cpu")


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def test_a_hostile_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    with open(tmp_path / "evil.ckpt", "wb") as f:
        pickle.dump({"band_split.to_features.0.0.gamma": _Hostile(marker)}, f, protocol=2)
    torch.save({"weights": _Hostile(marker)}, tmp_path / "evil_zip.ckpt")
    for name in ("evil.ckpt", "evil_zip.ckpt"):
        with pytest.raises(CheckpointError):
            load_separator(tmp_path / name, FIXTURES / "bs_roformer.yaml", device="cpu")
    assert not marker.exists()


def test_a_hostile_yaml_tag_is_refused_with_the_tag_named(tmp_path):
    marker = tmp_path / "marker"
    text = (FIXTURES / "bs_roformer.yaml").read_text().replace(
        "training:", f"hook: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path "
                     f"['{marker}']]\ntraining:")
    (tmp_path / "evil.yaml").write_text(text)
    with pytest.raises(ConfigError, match="python/object/apply"):
        load_separator(FIXTURES / "bs_roformer.ckpt", tmp_path / "evil.yaml", device="cpu")
    assert not marker.exists()
