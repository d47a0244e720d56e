"""so-vits-svc-fork's project dir from one run, held to the fork's own rules written out independently
(tests/peer_rules.py: its resample step, DIO and F0 interpolation, torchaudio's resampler; torch's STFT and
nearest interpolation; librosa's mel filters) and to its config template (tests/fixtures/sovits_fork, copied from
the fork); the dict its loader reads with ``weights_only=True``; split, resume and bad input."""

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from svcprep import load_extractor
from svcprep.cli.main import app
from svcprep.demo import tiny_models
from svcprep.demo.synthetic import sing
from svcprep.verify import verify_root
from tests import peer_rules

TEMPLATE = Path(__file__).parent / "fixtures" / "sovits_fork" / "so-vits-svc-4.0v1.json"
CLIPS = [(f"alice/a{i}", 44100 if i % 2 else 48000, 1.2 + 0.3 * i) for i in range(5)] + \
        [(f"bob/b{i}", 32000 if i % 2 else 22050, 1.0 + 0.25 * i) for i in range(5)] + [("carol/c0", 44100, 1.5)]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("fork") / "dataset_raw"
    for index, (uid, rate, seconds) in enumerate(CLIPS):
        (root / uid).parent.mkdir(parents=True, exist_ok=True)
        wav = sing(seconds, rate, seed=index)
        padded = np.concatenate([np.zeros(int(0.3 * rate), np.float32), wav, np.zeros(int(0.2 * rate), np.float32)])
        sf.write(root / f"{uid}.wav", 0.6 * padded, rate)
    sf.write(root / "bob" / "tiny.wav", sing(0.2, 44100, seed=50), 44100)  # under the fork's 0.3 s
    return root


def run_fork(corpus, out, content_model, *extra):
    return cli("run", "-c", "so-vits-svc-fork", "--corpus", corpus, "--out", out, "--model",
               f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu", *extra)


@pytest.fixture(scope="module")
def fork(tmp_path_factory, corpus, content_model):
    out = tmp_path_factory.mktemp("fork_out") / "project"
    result = run_fork(corpus, out, content_model)
    assert result.exit_code == 1, result.output  # the 0.2 s clip is recorded
    assert "carol have fewer than 5" in result.output
    return out


@pytest.mark.parametrize("uid", [uid for uid, _, _ in CLIPS])
def test_each_wav_is_the_forks_resample_step(fork, corpus, uid):
    expected = peer_rules.fork_resampled_wav(corpus / f"{uid}.wav")
    got, rate = sf.read(fork / "dataset" / "44k" / f"{uid}.wav", dtype="int16")
    assert rate == 44100 and np.array_equal(got, expected)


@pytest.mark.parametrize("uid", ["alice/a0", "alice/a3", "bob/b2"])
def test_data_pt_is_what_the_forks_pre_hubert_computes_from_the_wav(fork, content_model, uid):
    path = fork / "dataset" / "44k" / f"{uid}.wav"
    with open(path.parent / (path.name + ".data.pt"), "rb") as f:
        data = torch.load(f, weights_only=True, map_location="cpu")  # as the fork's dataset reads it
    assert sorted(data) == ["audio", "content", "f0", "mel_spec", "spec", "spk", "uv"]
    audio, sr = librosa.load(path, sr=44100, mono=True)  # the fork's load of its own wav
    f0, uv = peer_rules.fork_interpolate_f0(peer_rules.fork_dio(audio))
    x = torch.nn.functional.pad(torch.from_numpy(audio)[None, None], (768, 768), mode="reflect")[0]
    stft = torch.stft(x, 2048, hop_length=512, win_length=2048, window=torch.hann_window(2048), center=False,
                      return_complex=True)
    spec = torch.sqrt(stft.real ** 2 + stft.imag ** 2 + 1e-6)[0]
    mel = torch.log(torch.clamp(torch.from_numpy(librosa.filters.mel(sr=44100, n_fft=2048, n_mels=80, fmin=0.0,
                                                                     fmax=22050)) @ spec, min=1e-5))
    wav16k = peer_rules.torchaudio_resample(audio, 44100, 16000)
    extractor = load_extractor("contentvec-768-l12", model=str(content_model), layer=2, device="cpu")

    def expanded(wav: np.ndarray) -> torch.Tensor:
        c = torch.from_numpy(np.asarray(extractor.extract([wav])[0], np.float32).T)[None]
        return torch.nn.functional.interpolate(c, size=len(f0), mode="nearest")[0] if len(f0) >= c.shape[-1] \
            else c[0, :, :len(f0)]

    content = expanded(wav16k)
    # the bound: how far the model moves when its input moves as far as two float32 resamplers disagree
    from svcprep.audio.io import resample

    delta = float(np.abs(resample(audio, 44100, 16000, "torchaudio") - wav16k).max())
    noise = delta * np.random.default_rng(0).choice([-1.0, 1.0], size=len(wav16k)).astype(np.float32)
    content_bound = 2 * float((expanded(wav16k + noise) - content).abs().max()) + 1e-6
    frames = min(spec.shape[1], len(f0), content.shape[1])
    ulps = 4 * float(np.finfo(np.float32).eps)  # a few float32 roundings of the value
    assert data["f0"].shape == (frames,) and data["f0"].dtype == torch.float32
    np.testing.assert_allclose(data["f0"].numpy(), f0[:frames], rtol=ulps)
    np.testing.assert_array_equal(data["uv"].numpy(), uv[:frames])
    np.testing.assert_allclose(data["spec"].numpy(), spec[:, :frames].numpy(), rtol=ulps, atol=ulps * float(spec.max()))
    np.testing.assert_allclose(data["mel_spec"].numpy(), mel[:, :frames].numpy(), rtol=0,
                               atol=ulps * float(mel.abs().max()))
    assert data["content"].shape == (768, frames)
    assert float((data["content"] - content[:, :frames]).abs().max()) <= content_bound
    np.testing.assert_array_equal(data["audio"].numpy(), audio[None])
    speaker = uid.split("/")[0]
    assert data["spk"].dtype == torch.int64 and int(data["spk"]) == ["alice", "bob", "carol"].index(speaker)


def test_the_sinc_resampler_is_torchaudios_rule():
    from svcprep.audio.io import resample

    x = np.random.default_rng(0).standard_normal(44100 + 123).astype(np.float32) * 0.3
    for orig, new in ((44100, 16000), (48000, 16000), (22050, 16000), (16000, 44100)):
        got = resample(x, orig, new, "torchaudio")
        expected = peer_rules.torchaudio_resample(x, orig, new)
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-5, (orig, new)


def test_file_lists_and_config_are_the_forks_split_and_template(fork):
    speakers = {"alice": [f"dataset/44k/alice/a{i}.wav" for i in range(5)],
                "bob": [f"dataset/44k/bob/b{i}.wav" for i in range(5)]}  # carol has one clip: left out
    random = np.random.RandomState(1234)
    train, val, test = [], [], []
    for speaker in sorted(speakers):
        paths = sorted(speakers[speaker])
        random.shuffle(paths)
        train, val, test = train + paths[2:-2], val + paths[:2], test + paths[-2:]
    for name, rows in (("train", train), ("val", val), ("test", test)):
        assert (fork / "filelists" / "44k" / f"{name}.txt").read_text().splitlines() == rows
    config = json.loads(TEMPLATE.read_text())
    config["spk"] = {"alice": 0, "bob": 1, "carol": 2}
    config["data"]["training_files"] = "filelists/44k/train.txt"
    config["data"]["validation_files"] = "filelists/44k/val.txt"
    assert json.loads((fork / "configs" / "44k" / "config.json").read_text()) == config
    checks = verify_root(fork)
    assert checks and all(not c.problems for c in checks), [c.problems for c in checks if c.problems]


def test_a_rerun_skips_everything_and_the_short_clip_is_recorded(fork, corpus, content_model):
    failures = [json.loads(line) for line in (fork / "_failures.jsonl").read_text().splitlines()]
    assert sorted((f["uid"], f["output"]) for f in failures) == [("bob/tiny", "data"), ("bob/tiny", "wav")]
    assert all("under 0.3 s" in f["reason"] for f in failures)
    before = {p: p.stat().st_mtime_ns for p in fork.rglob("*.pt")}
    result = run_fork(corpus, fork, content_model)
    assert "done 0," in result.output, result.output
    assert {p: p.stat().st_mtime_ns for p in fork.rglob("*.pt")} == before


def test_a_content_model_of_the_wrong_width_is_one_clear_line(tmp_path, corpus):
    narrow = tiny_models.save_fairseq_contentvec(tmp_path / "cv32.pt")
    result = run_fork(corpus, tmp_path / "out", narrow)
    assert result.exit_code == 2 and "768" in result.output and len(result.output.strip().splitlines()) == 1, \
        result.output
    assert not (tmp_path / "out").exists()


def test_speaker_names_that_collide_are_one_clear_line(tmp_path, content_model):
    for speaker in ("a b", "a_b"):  # both become the speaker dir a_b
        (tmp_path / "raw" / speaker).mkdir(parents=True)
        sf.write(tmp_path / "raw" / speaker / "x.wav", sing(1.0, 44100, seed=1), 44100)
    result = run_fork(tmp_path / "raw", tmp_path / "out", content_model)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "a_b" in result.output and not (tmp_path / "out").exists()
