import json

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.amphion_reference import amphion_mel
from svcprep.audio.io import Audio, resample, resampled_num_samples, to_channels
from svcprep.audio.mel import MelExtractor, slaney_mel_filters
from svcprep.audio.presets import builtin_preset_names, load_preset
from svcprep.corpus.scan import check_uid, load_corpus, shard_of
from svcprep.errors import AudioLoadError, ConfigError


@pytest.mark.parametrize("preset_name", ["amphion-svc-24k", "vevo-24k", "nsf-hifigan-44k"])
@pytest.mark.parametrize("seconds", [0.37, 2.0])
def test_mel_matches_amphion(preset_name, seconds):
    p = load_preset(preset_name)
    rng = np.random.default_rng(0)
    wav = (0.3 * rng.standard_normal(int(seconds * p.sample_rate))).astype(np.float32)
    ours = MelExtractor(p)(wav)
    ref = amphion_mel(torch.from_numpy(wav)[None], p.n_fft, p.n_mels, p.sample_rate, p.hop_length, p.win_length,
                      p.fmin, p.fmax)[0].numpy()
    assert ours.shape == ref.shape == (p.n_mels, len(wav) // p.hop_length)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_slaney_filters_equal_transformers():
    from transformers.audio_utils import mel_filter_bank

    ref = mel_filter_bank(num_frequency_bins=1025, num_mel_filters=128, min_frequency=40, max_frequency=16000,
                          sampling_rate=44100, norm="slaney", mel_scale="slaney").T
    np.testing.assert_allclose(slaney_mel_filters(44100, 2048, 128, 40, 16000), ref, atol=1e-7)


def test_mel_too_short_is_clear():
    with pytest.raises(AudioLoadError, match="at least"):
        MelExtractor(load_preset("amphion-svc-24k"))(np.zeros(100, np.float32))


def test_presets():
    assert {"amphion-svc-24k", "vevo-24k", "nsf-hifigan-44k"} <= set(builtin_preset_names())
    p = load_preset("vevo-24k")
    assert (p.sample_rate, p.n_fft, p.hop_length, p.win_length, p.n_mels) == (24000, 1920, 480, 1920, 128)


def test_preset_unknown_key_lists_valid(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("sample_rate: 24000\nn_fft: 1024\nhop_length: 256\nwin_length: 1024\nn_mels: 80\n"
                    "fmin: 0\nfmax: 8000\nhop: 3\n")
    with pytest.raises(ConfigError, match="unknown key.*hop.*valid"):
        load_preset(str(path))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(100, 200_000), rate=st.sampled_from([16000, 22050, 32000, 44100, 48000, 96000]))
def test_librosa_length_rule_and_samples_match_librosa_resample(n, rate):
    """Amphion loads with librosa: soxr_hq, then padded/cut to ceil(n * float ratio); presets may ask for it."""
    import librosa

    x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    expected = librosa.resample(x, orig_sr=rate, target_sr=24000, res_type="soxr_hq")
    got = resample(x, rate, 24000, "librosa")
    assert len(got) == len(expected) == resampled_num_samples(n, rate, 24000, "librosa")
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 200_000), rates=st.sampled_from([(44100, 24000), (22050, 16000), (48000, 16000),
                                                         (16000, 24000), (32000, 44100), (24000, 16000)]))
def test_resampled_length_formula_matches_soxr(n, rates):
    a, b = rates
    assert len(resample(np.zeros(n, np.float32), a, b)) == resampled_num_samples(n, a, b)


def test_channels():
    stereo = Audio(np.stack([np.ones(4), 3 * np.ones(4)], 1).astype(np.float32), 16000)
    assert np.allclose(to_channels(stereo, 1), 2.0)
    mono = Audio(np.ones((4, 1), np.float32), 16000)
    assert to_channels(mono, 2).shape == (4, 2)


@pytest.mark.parametrize("uid", ["../x", "/abs", "a/../../b", "", "a//b"])
def test_escaping_uids_rejected(uid):
    with pytest.raises(ConfigError, match="escape"):
        check_uid(uid, "test")


def test_corpus_kinds(tmp_path):
    audio = tmp_path / "audio"
    (audio / "s1").mkdir(parents=True)
    sf.write(audio / "s1" / "a.wav", np.zeros(1600), 16000)
    sf.write(audio / "b.flac", np.zeros(1600), 16000)
    (audio / "notes.txt").write_text("not audio")
    assert [e.uid for e in load_corpus(audio).entries] == ["b", "s1/a"]
    amphion = tmp_path / "amphion"
    amphion.mkdir()
    (amphion / "train.json").write_text(json.dumps([{"Dataset": "d", "Singer": "s", "Uid": "d_s_1",
                                                     "Path": str(audio / "b.flac"), "Duration": 0.1}]))
    corpus = load_corpus(amphion)
    assert corpus.kind == "amphion" and corpus.default_out == amphion and corpus.entries[0].uid == "d_s_1"
    manifest = tmp_path / "m.csv"
    manifest.write_text("uid,path\nx,audio/b.flac\n")
    assert load_corpus(manifest).entries[0].path == audio / "b.flac"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"uid": "../../etc/x", "path": "a.wav"}) + "\n")
    with pytest.raises(ConfigError, match="escape"):
        load_corpus(bad)


def test_shards_are_stable_and_partition():
    uids = [f"spk{i % 7}/utt{i}" for i in range(500)]
    shards = [shard_of(u, 4) for u in uids]
    assert shards == [shard_of(u, 4) for u in uids] and set(shards) == {0, 1, 2, 3}
