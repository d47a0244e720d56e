"""`svcprep run --config amphion-svc` over an Amphion dataset dir, read the way Amphion's SVC training and
inference datasets read it (paths, keys, int() of frameshifts, re-alignment), with the fragment merged over a
stock-like exp_config: every tensor they would build equals svcprep's files."""

import json
from math import gcd

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from bench.amphion_reference import amphion_align_length, amphion_area_align
from svcprep.cli.main import app
from svcprep.demo.synthetic import sing

STOCK_PREPROCESS = {  # Amphion's config/svc/base.json defaults that the fragment must override or agree with
    "processed_dir": "data", "whisper_frameshift": 0.01, "whisper_downsample_rate": 2,
    "contentvec_frameshift": 0.02, "hop_size": 256, "sample_rate": 24000, "n_mel": 100, "mel_dir": "mels",
    "pitch_dir": "pitches", "uv_dir": "uvs", "energy_dir": "energys", "whisper_dir": "whisper",
    "contentvec_dir": "contentvec", "mel_min_max_stats_dir": "mel_min_max_stats", "spk2id": "singers.json",
    "utt2spk": "utt2singer", "use_uv": True, "use_frame_pitch": True, "use_frame_energy": True, "use_spkid": True,
}


def deep_merge(base, over):
    merged = dict(base)
    for key, value in over.items():
        merged[key] = deep_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) \
            else value
    return merged


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, tiny_models_by_name):
    data = tmp_path_factory.mktemp("data")
    root = data / "opencpop"
    (root / "raw").mkdir(parents=True)
    items = []
    for i, (rate, seconds) in enumerate([(44100, 1.6), (24000, 1.1), (22050, 2.3), (48000, 0.9)]):
        path = root / "raw" / f"{i}.wav"
        sf.write(path, sing(seconds, rate, seed=i), rate)
        items.append({"Dataset": "opencpop", "Singer": "female1" if i % 2 else "male1", "Uid": f"opencpop_{i}",
                      "Path": str(path), "Duration": seconds})
    (root / "train.json").write_text(json.dumps(items[:3]))
    (root / "test.json").write_text(json.dumps(items[3:]))
    whisper, _ = tiny_models_by_name["whisper"]
    contentvec, _ = tiny_models_by_name["contentvec"]
    result = CliRunner().invoke(app, ["run", "--config", "amphion-svc", "--corpus", str(root),
                                      "--model", f"whisper={whisper}", "--model", f"contentvec={contentvec}",
                                      "--set", "contentvec.layer=2"])
    assert result.exit_code == 0, result.output
    assert "statistics over 4 mels and 4 pitch tracks" in result.output
    return data, root, items


def test_amphion_loaders_build_tensors_equal_to_our_files(dataset):
    data, root, items = dataset
    fragment = json.loads((root / "svcprep_amphion.json").read_text())
    pre = deep_merge(STOCK_PREPROCESS, fragment["preprocess"])
    encoder = fragment["model"]["condition_encoder"]
    assert pre["processed_dir"] == str(data.resolve())
    assert encoder["use_whisper"] and encoder["use_contentvec"]
    assert encoder["whisper_dim"] == 32 and encoder["contentvec_dim"] == 8  # the tiny models' widths
    dataset_dir = root
    spk2id = json.loads((dataset_dir / pre["spk2id"]).read_text())
    utt2spk = dict(line.strip().split("\t") for line in (dataset_dir / pre["utt2spk"]).read_text().splitlines())
    mel_min = np.load(dataset_dir / pre["mel_min_max_stats_dir"] / "mel_min.npy")
    mel_max = np.load(dataset_dir / pre["mel_min_max_stats_dir"] / "mel_max.npy")
    statistics = json.loads((dataset_dir / pre["pitch_dir"] / "statistics.json").read_text())
    # Amphion's aligners: int(frameshift * downsample * sample_rate) against hop_size, reduced by the gcd.
    hops = {"whisper": int(pre["whisper_frameshift"] * pre["whisper_downsample_rate"] * pre["sample_rate"]),
            "contentvec": int(pre["contentvec_frameshift"] * pre["sample_rate"])}
    assert hops == {"whisper": 480, "contentvec": 480}
    for item in items:
        uid, utt = item["Uid"], f"{item['Dataset']}_{item['Uid']}"
        mel = np.load(data / item["Dataset"] / pre["mel_dir"] / f"{uid}.npy")
        assert mel.shape[0] == pre["n_mel"] and mel.dtype == np.float32
        target_len = mel.shape[1]
        assert np.all((mel - mel_min[:, None]) / (mel_max - mel_min + 1e-8)[:, None] * 2 - 1 <= 1 + 1e-6)
        pitch = np.load(data / item["Dataset"] / pre["pitch_dir"] / f"{uid}.npy")
        uv = np.load(data / item["Dataset"] / pre["uv_dir"] / f"{uid}.npy")
        energy = np.load(data / item["Dataset"] / pre["energy_dir"] / f"{uid}.npy")
        for array in (pitch, uv, energy):  # align_length leaves them as they are: already the mel length
            assert array.shape == (target_len,)
            np.testing.assert_array_equal(amphion_align_length(array, target_len), array)
        np.testing.assert_array_equal(uv, pitch != 0)
        assert spk2id[utt2spk[utt]] in range(len(spk2id))
        assert statistics[f"{item['Dataset']}_{item['Singer']}"]["voiced_positions"]["median"] > 0
        for name in ("whisper", "contentvec"):
            native = np.load(data / item["Dataset"] / pre[f"{name}_dir"] / f"{uid}.npy")
            factor = gcd(hops[name], pre["hop_size"])
            realigned = amphion_area_align(native, target_len, hops[name] // factor, pre["hop_size"] // factor)
            ours = np.load(root / name / f"{uid}.npy")
            assert realigned.shape == ours.shape == (target_len, encoder[f"{name}_dim"])
            np.testing.assert_allclose(realigned, ours, atol=2e-6, rtol=0)


def test_every_float_in_the_fragment_survives_amphions_int(dataset):
    _, root, _ = dataset
    pre = json.loads((root / "svcprep_amphion.json").read_text())["preprocess"]
    assert int(pre["whisper_frameshift"] * pre["whisper_downsample_rate"] * pre["sample_rate"]) * 2 == \
        int(pre["contentvec_frameshift"] * pre["sample_rate"]) * 2 == 960


def test_rerun_skips_every_file_and_rewrites_identical_statistics(dataset, tiny_models_by_name):
    _, root, _ = dataset
    before = {p.name: p.read_bytes() for p in (root / "pitches" / "statistics.json", root / "singers.json",
                                               root / "mel_min_max_stats" / "mel_min.npy")}
    result = CliRunner().invoke(app, ["run", "--config", "amphion-svc", "--corpus", str(root),
                                      "--model", f"whisper={tiny_models_by_name['whisper'][0]}",
                                      "--model", f"contentvec={tiny_models_by_name['contentvec'][0]}",
                                      "--set", "contentvec.layer=2"])
    assert result.exit_code == 0 and "done 0, skipped 4" in result.output, result.output
    after = {p.name: p.read_bytes() for p in (root / "pitches" / "statistics.json", root / "singers.json",
                                              root / "mel_min_max_stats" / "mel_min.npy")}
    assert after == before
