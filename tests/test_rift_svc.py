"""RIFT-SVC's data dir, held to its own rules written out from its source (Pur1zumu/RIFT-SVC at c03fa59): the wav
of ``resample_normalize_audios.py`` (-18 LUFS by pyloudnorm, 0.99 headroom, PCM_16), ``get_mel_spectrogram`` and
``RMSExtractor`` (feature_extractors.py), ``post_process_f0`` (utils.py) on a signal of known F0, the content pair
of ``prepare_cvec.py`` (torchaudio's resampler, ``roll_pad(wav, -160)``, rows interleaved), the stratified split
of ``prepare_data_meta.py``, and files its loader opens with ``torch.load(weights_only=True, mmap=True)``."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from svcprep import load_extractor
from svcprep.cli.main import app
from svcprep.demo.synthetic import known_f0, known_pitch_clip, known_voicing
from tests import peer_rules
from tests.float32_bounds import UNIT_ROUNDOFF, assert_within, gamma, stft_log_mel_bound

GAPS = ((1.2, 1.6),)
CLIPS = {  # uid: (rate, seconds, gain): a quiet one, one with clicks that -18 LUFS would clip, a stereo one
    "alice/a1": (48000, 3.0, 0.05),
    "alice/a2": (44100, 2.5, 0.05),
    "bob/b1": (32000, 2.0, 0.3),
}


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def pt_load(path: Path) -> torch.Tensor:
    """RIFT-SVC's loader (dataset.py): ``partial(torch.load, weights_only=True, map_location='cpu', mmap=True)``."""
    return torch.load(path, weights_only=True, map_location="cpu", mmap=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("rift") / "dataset_raw"
    for index, (uid, (rate, seconds, gain)) in enumerate(CLIPS.items()):
        (root / uid).parent.mkdir(parents=True, exist_ok=True)
        wav = gain * known_pitch_clip(rate, seconds, GAPS, seed=index)
        if uid == "alice/a2":  # clicks: a high crest factor, so the gain to -18 LUFS takes the peak over 1
            wav[[int(0.5 * rate), int(2.0 * rate)]] = 0.9
        if uid == "bob/b1":
            wav = np.stack([wav, 0.5 * wav], axis=1)
        sf.write(root / f"{uid}.wav", wav.astype(np.float32), rate, subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def rift(tmp_path_factory, corpus, content_model):
    out = tmp_path_factory.mktemp("rift_out") / "RIFT-SVC"
    result = cli("run", "-c", "rift-svc", "--corpus", corpus, "--out", out, "--model", f"contentvec={content_model}",
                 "--set", "contentvec.layer=2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    return out / "data" / "finetune"


def read_wav(path: Path) -> np.ndarray:
    """What torchaudio.load gives its scripts for a PCM_16 wav: the int16 values / 32768, float32."""
    samples, rate = sf.read(path, dtype="int16")
    assert rate == 44100 and samples.ndim == 1
    return samples.astype(np.float32) / 32768.0


@pytest.mark.parametrize("uid", list(CLIPS))
def test_each_wav_is_its_resample_and_loudness_step(rift, uid):
    path = rift / f"{uid}.wav"
    assert sf.info(str(path)).subtype == "PCM_16"
    wav = read_wav(path).astype(np.float64)
    loudness = pyloudnorm.Meter(44100).integrated_loudness(wav)
    peak = np.max(np.abs(wav))
    assert abs(loudness - (-18.0)) <= 0.1 or (abs(peak - 0.99) <= 1e-3 and loudness < -18.0), (loudness, peak)
    if uid == "alice/a2":  # its clicks would clip at -18 LUFS: the headroom rule applies
        assert abs(peak - 0.99) <= 1e-3 and loudness < -18.0


def rift_mel(wav: np.ndarray) -> np.ndarray:
    """get_mel_spectrogram(y, n_fft 2048, 128 mels, 44100, hop 512, win 2048, fmin 40, fmax 16000), as written."""
    y = torch.nn.functional.pad(torch.from_numpy(wav)[None, None], (768, 768), mode="reflect")[0]
    spec = torch.stft(y, 2048, hop_length=512, win_length=2048, window=torch.hann_window(2048), center=False,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
    basis = torch.from_numpy(librosa.filters.mel(sr=44100, n_fft=2048, n_mels=128, fmin=40, fmax=16000)).float()
    return torch.log(torch.clamp(torch.matmul(basis, spec), min=1e-5)).numpy()


def rift_rms(wav: np.ndarray) -> np.ndarray:
    """RMSExtractor(hop_length=512, window_length=2048) on (1, N), as written."""
    squared = torch.from_numpy(wav)[None] ** 2
    padded = torch.nn.functional.pad(squared, (768, 768), mode="reflect")
    return torch.sqrt(padded.unfold(1, 2048, 512).mean(dim=-1)).numpy()


@pytest.mark.parametrize("uid", list(CLIPS))
def test_mel_and_rms_are_its_formulas_of_the_wav(rift, uid):
    wav = read_wav(rift / f"{uid}.wav")
    mel, energy = pt_load(rift / f"{uid}.mel.pt").numpy(), pt_load(rift / f"{uid}.rms.pt").numpy()
    frames = len(wav) // 512
    assert mel.shape == (1, 128, frames) and energy.shape == (1, frames)
    assert mel.dtype == energy.dtype == np.float32
    bound, _ = stft_log_mel_bound(wav, 2048, 512, (768, 768), torch.hann_window(2048, dtype=torch.float64).numpy(),
                                  librosa.filters.mel(sr=44100, n_fft=2048, n_mels=128, fmin=40, fmax=16000), 1e-5)
    assert_within(mel[0], rift_mel(wav)[0], bound.T, "mel")
    reference = rift_rms(wav)  # a mean of 2048 positive terms each side: gamma(2049) of it, and a square root
    assert_within(energy, reference, 2 * (gamma(2049) + 2 * UNIT_ROUNDOFF) * reference + 1e-12, "rms")


@pytest.mark.parametrize("uid", ["alice/a1", "alice/a2"])
def test_f0_follows_the_known_line_on_its_frame_times(rift, uid):
    f0 = pt_load(rift / f"{uid}.f0.pt").numpy()
    wav = read_wav(rift / f"{uid}.wav")
    assert f0.shape == (len(wav) // 512,) and f0.dtype == np.float32
    times = np.arange(len(f0)) * 512 / 44100  # post_process_f0's target times: k·hop/sr, not the frame centres
    voiced = known_voicing(times, GAPS) & (times > 0.05) & (times < times[-1] - 0.05)
    both = voiced & (f0 > 0)
    assert both.sum() >= 0.9 * voiced.sum()
    assert np.median(np.abs(1200 * np.log2(f0[both] / known_f0(times[both])))) <= 15.0
    in_gap = ~known_voicing(times, tuple((a + 0.05, b - 0.05) for a, b in GAPS))
    assert np.mean(f0[in_gap] == 0) >= 0.9


def test_a_one_frame_shift_of_the_f0_grid_would_fail(rift):
    """The 15-cent bound tells RIFT-SVC's times from times one hop later."""
    f0 = pt_load(rift / "alice/a2.f0.pt").numpy()
    times = (np.arange(len(f0)) + 1) * 512 / 44100
    both = known_voicing(times, GAPS) & (f0 > 0)
    assert np.median(np.abs(1200 * np.log2(f0[both] / known_f0(times[both])))) > 15.0


def roll_pad(wav: np.ndarray, shift: int) -> np.ndarray:
    """prepare_cvec.py's roll_pad for a negative shift: rolled left, the last -shift samples zeroed."""
    rolled = np.roll(wav, shift)
    rolled[shift:] = 0
    return rolled


@pytest.mark.parametrize("uid", ["alice/a1", "bob/b1"])
def test_content_is_the_pair_interleaved_on_a_10_ms_grid(rift, content_model, uid):
    cvec = pt_load(rift / f"{uid}.cvec.pt").numpy()
    wav16k = peer_rules.torchaudio_resample(read_wav(rift / f"{uid}.wav"), 44100, 16000)
    extractor = load_extractor("contentvec-768-l12", model=str(content_model), layer=2, device="cpu")
    a = extractor.extract([wav16k])[0]
    b = extractor.extract([roll_pad(wav16k, -160)])[0]
    expected = np.stack([a, b], axis=1).reshape(2 * len(a), a.shape[1])
    assert cvec.shape == expected.shape and cvec.shape[1] == 768 and cvec.dtype == np.float32
    relative = np.linalg.norm(cvec - expected) / np.linalg.norm(expected)
    assert relative <= 1e-3, relative
    unshifted = np.repeat(a, 2, axis=0)  # rows without the +10 ms pass: what the test must tell apart
    assert np.linalg.norm(unshifted - expected) / np.linalg.norm(expected) > 10 * max(relative, 1e-4)


def test_meta_info_is_its_stratified_split(rift):
    meta = json.loads((rift / "meta_info.json").read_text(encoding="utf-8"))
    assert meta["speakers"] == ["alice", "bob"]
    listed = [(a["speaker"], a["file_name"]) for a in meta["train_audios"] + meta["test_audios"]]
    assert sorted(listed) == [("alice", "a1"), ("alice", "a2"), ("bob", "b1")]
    assert [a["speaker"] for a in meta["test_audios"]] == ["alice"]  # one per speaker with more than one clip
    assert ("bob", "b1") in [(a["speaker"], a["file_name"]) for a in meta["train_audios"]]  # bob's only clip trains


def test_every_file_opens_as_its_loader_opens_it(rift):
    stems = [p.with_suffix("") for p in sorted(rift.rglob("*.wav"))]
    assert len(stems) == 3
    for stem in stems:
        mel = pt_load(Path(f"{stem}.mel.pt")).squeeze(0).T
        for kind in ("rms", "f0", "cvec"):
            assert isinstance(pt_load(Path(f"{stem}.{kind}.pt")), torch.Tensor)
        assert mel.shape[1] == 128


def test_verify_and_usage_errors(rift, corpus, content_model, tmp_path):
    assert cli("verify", rift.parent.parent).exit_code == 0
    result = cli("run", "-c", "rift-svc", "--corpus", corpus, "--out", tmp_path / "o", "--model",
                 f"contentvec={content_model}", "--set", "contentvec.layer=2", "--set", "pitch.method=parselmouth")
    assert result.exit_code == 2 and "RIFT-SVC's F0" in result.output, result.output
    assert not (tmp_path / "o").exists()
