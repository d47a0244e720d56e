"""Checkpoint formats: the shared fixtures (fairseq's and Meta's own outputs), hub ids, hostile files."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from svcprep import load_extractor
from svcprep.demo import tiny_models
from svcprep.errors import CheckpointError, ConfigError, ModelNotAvailableError
from svcprep.extractors.checkpoint_io import Placeholder, load_untrusted_checkpoint
from tests.conftest import FIXTURES
from tests.float32_bounds import assert_within, network_bound

FAIRSEQ = FIXTURES / "fairseq_hubert_group"
META = FIXTURES / "encodec_meta_24k"


@pytest.fixture(scope="module")
def fairseq_expected():
    return np.load(FAIRSEQ / "expected.npz")


@pytest.mark.parametrize("layer,proj,key", [
    (1, False, "layer1"), (2, False, "layer2"), (3, False, "layer3"), ("final", False, "final_none"),
    (3, True, "final_proj_last"), ("final", True, "final_proj_final_none"),
])
def test_fairseq_fixture_parity(fairseq_expected, layer, proj, key):
    options = {"model": FAIRSEQ / "model.pt", "layer": layer, "proj": proj}
    wav = np.load(FAIRSEQ / "input.npy")
    feats = load_extractor("contentvec", **options).extract([wav])[0]
    expected = fairseq_expected[key][0]
    assert feats.shape == expected.shape
    exact = load_extractor("contentvec", **options, dtype=torch.float64).extract([wav])[0].astype(np.float64)
    assert_within(feats, expected, network_bound(feats, exact), key)


@pytest.mark.parametrize("layer,key", [(3, "batch_last_row"), ("final", "batch_final_none_row")])
def test_fairseq_fixture_batch_rows_equal_rows_run_alone(fairseq_expected, layer, key):
    batch = np.load(FAIRSEQ / "input_batch.npy")
    lengths = np.load(FAIRSEQ / "input_batch_lengths.npy")
    clips = [batch[i, :n] for i, n in enumerate(lengths)]
    outs = load_extractor("contentvec", model=FAIRSEQ / "model.pt", layer=layer, proj=False).extract(clips)
    exact = load_extractor("contentvec", model=FAIRSEQ / "model.pt", layer=layer, proj=False,
                           dtype=torch.float64).extract(clips)
    assert len(outs) == len(lengths) >= 2
    for i, out in enumerate(outs):
        assert_within(out, fairseq_expected[f"{key}{i}"][0], network_bound(out, exact[i].astype(np.float64)),
                      f"{key}{i}")


def test_fairseq_conv_features_match(fairseq_expected):
    extractor = load_extractor("contentvec", model=FAIRSEQ / "model.pt", layer=1)
    wav = torch.from_numpy(np.load(FAIRSEQ / "input.npy"))[None]
    with torch.inference_mode():
        conv, _ = extractor._conv_features(wav, [wav.shape[1]])
    np.testing.assert_allclose(conv.transpose(1, 2).numpy(), fairseq_expected["conv_features"], atol=1e-4)


@pytest.mark.parametrize("output,bandwidth,key", [
    ("latent", 6.0, "latent"), ("quantized", 6.0, "quantized_6kbps"),
    ("codes", 6.0, "codes_6kbps"), ("codes", 3.0, "codes_3kbps"),
])
def test_meta_encodec_fixture_parity(output, bandwidth, key):
    expected = np.load(META / "expected.npz")[key][0].T
    extractor = load_extractor("encodec", model=META / "model.th", output=output, bandwidth=bandwidth)
    feats = extractor.extract([np.load(META / "input.npy")[0]])[0]
    assert feats.shape == expected.shape
    if output == "codes":
        assert feats.dtype == np.int64 and np.array_equal(feats, expected)
    else:
        exact = load_extractor("encodec", model=META / "model.th", output=output, bandwidth=bandwidth,
                               dtype=torch.float64).extract([np.load(META / "input.npy")[0]])[0]
        assert_within(feats, expected, network_bound(feats, exact.astype(np.float64)), key)


def test_meta_encodec_rvq_depth_comes_from_checkpoint():
    extractor = load_extractor("encodec", model=META / "model.th", output="codes", bandwidth=6.0)
    assert len(extractor.model.quantizer.layers) == 8 and extractor.spec.dim == 8


def test_hf_encodec_rvq_depth_comes_from_weights(tmp_path):
    # A dir whose config implies more RVQ layers than its weights hold.
    path = tiny_models.save_encodec(tmp_path / "enc")
    from safetensors.torch import load_file, save_file

    weights = {k: v for k, v in load_file(path / "model.safetensors").items()
               if not k.startswith(tuple(f"quantizer.layers.{i}." for i in range(5, 64)))}
    save_file(weights, path / "model.safetensors", metadata={"format": "pt"})
    extractor = load_extractor("encodec", model=path, output="codes", bandwidth=6.0)
    assert len(extractor.model.quantizer.layers) == 5 and extractor.spec.dim == 5


@pytest.mark.parametrize("legacy_args", [False, True])
def test_fairseq_structured_checkpoint_with_foreign_classes(tmp_path, legacy_args):
    path = tiny_models.save_fairseq_contentvec(tmp_path / "cv.pt", legacy_args=legacy_args)
    checkpoint = load_untrusted_checkpoint(path)
    assert isinstance(checkpoint["task_state"]["dictionaries"][0], Placeholder)
    extractor = load_extractor("contentvec", model=path, layer=2, proj=True)
    assert extractor.spec.dim == 8
    assert extractor.extract([np.zeros(8000, np.float32)])[0].shape == (24, 8)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_hostile_pickle_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"model": {"x": torch.zeros(1)}, "cfg": {"model": {}}, "payload": _Exploit()}, path)
    with pytest.raises(CheckpointError):
        load_extractor("contentvec", model=path)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()
    loaded = load_untrusted_checkpoint(path)
    assert isinstance(loaded["payload"], Placeholder) and loaded["payload"].qualname == "posix.system"


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", pickle.dumps({"model": 3})])
def test_corrupt_checkpoints_are_checkpoint_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_extractor("contentvec", model=path)


def test_truncated_fairseq_checkpoint(tmp_path):
    data = (FAIRSEQ / "model.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt"):
        load_extractor("contentvec", model=path)


def test_meta_checkpoint_with_wrong_tensors(tmp_path):
    state = torch.load(META / "model.th", weights_only=True)
    del state["encoder.model.13.lstm.weight_hh_l1"]
    torch.save(state, tmp_path / "broken.th")
    with pytest.raises(CheckpointError, match="broken.th"):
        load_extractor("encodec", model=tmp_path / "broken.th")


def test_mert_custom_code_needs_explicit_trust(tiny_models_by_name):
    path, _ = tiny_models_by_name["mert"]
    with pytest.raises(ConfigError, match="trust_remote_code"):
        load_extractor("mert", model=path)
    extractor = load_extractor("mert", model=path, trust_remote_code=True)
    assert extractor.spec.sample_rate == 24000 and float(extractor.spec.grid.frame_rate) == 75.0


def test_hub_id_resolves_through_the_cache(monkeypatch, tiny_models_by_name):
    import huggingface_hub

    path, _ = tiny_models_by_name["hubert"]
    calls = []

    def fake_snapshot_download(repo_id, local_files_only=False, **_):
        calls.append((repo_id, local_files_only))
        return str(path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    extractor = load_extractor("hubert")  # default hub id, served from the (mocked) cache
    assert calls == [("facebook/hubert-base-ls960", True)]
    assert extractor.spec.dim == 32


def test_hub_id_offline_error_names_the_local_path_option(monkeypatch):
    import huggingface_hub

    def missing(repo_id, **_):
        raise FileNotFoundError(f"{repo_id} not cached")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", missing)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match=r"--model whisper=PATH"):
        load_extractor("whisper")


def test_missing_local_path():
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_extractor("hubert", model=Path("/nonexistent/model.pt"))
