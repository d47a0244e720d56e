"""FCPE (torchfcpe's real weights) and RMVPE (users' checkpoints) against the original code's outputs, against
signals with known F0, batched against one by one, and through the pipeline on the model device."""

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from svcprep import load_pitch_tracker
from svcprep.audio.presets import load_preset
from svcprep.cli.main import app
from svcprep.demo import tiny_models
from svcprep.demo.synthetic import known_f0, known_pitch_clip, known_voicing
from svcprep.errors import CheckpointError, ConfigError
from svcprep.pitch.neural import plan_windows
from tests.float32_bounds import assert_within, network_bound, stft_log_mel_bound

FIXTURES = Path(__file__).parent / "fixtures"
RMVPE_FIXTURE, FCPE_FIXTURE = FIXTURES / "rmvpe_rvc_small", FIXTURES / "fcpe_torchfcpe"
GAPS = ((1.4, 1.7), (2.7, 3.0))
PRESET = load_preset("amphion-svc-24k")
HANN_1024 = torch.hann_window(1024, dtype=torch.float64).numpy()


def cents(a, b):
    return np.abs(1200 * np.log2(a / b))


def agreement(ours, reference):
    """(share of frames with the same voicing, share of frames voiced in both within 1 cent)."""
    same_voicing = np.mean((ours > 0) == (reference > 0))
    both = (ours > 0) & (reference > 0)
    return same_voicing, np.mean(cents(ours[both], reference[both]) <= 1.0)


@pytest.fixture(scope="module")
def fcpe():
    return load_pitch_tracker("fcpe", device="cpu")


@pytest.fixture(scope="module")
def rmvpe():
    return load_pitch_tracker("rmvpe", RMVPE_FIXTURE / "rmvpe.pt", device="cpu")


def fcpe_mel_bound(x):
    """torchfcpe's mel (librosa's Slaney filters, 0-8 kHz; reflect padding of (n_fft - hop) / 2; its short last
    frame repeated) bounded by float32 arithmetic."""
    left, right = (1024 - 160) // 2, (1024 - 160 + 1) // 2
    bound, _ = stft_log_mel_bound(x, 1024, 160, (left, right), HANN_1024,
                                  librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=0, fmax=8000), 1e-5)
    return np.concatenate([bound, bound[-1:]])


def rmvpe_mel_bound(x):
    """RVC's mel (librosa's HTK filters, 30-8000 Hz, ``center=True``) bounded by float32 arithmetic."""
    bound, _ = stft_log_mel_bound(x, 1024, 160, (512, 512), HANN_1024,
                                  librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=30, fmax=8000,
                                                      htk=True), 1e-5)
    return bound


def salience_bound(tracker_name, x, salience, model=None):
    """The network's float32 bound, its rounding measured against a float64 run of the same network."""
    exact = load_pitch_tracker(tracker_name, model, device="cpu", dtype=torch.float64).salience([x])[0].double()
    return network_bound(salience, exact.numpy())


def test_fcpe_equals_torchfcpe_with_its_real_weights(fcpe):
    x, expected = np.load(FCPE_FIXTURE / "input.npy"), np.load(FCPE_FIXTURE / "expected.npz")
    assert_within(fcpe.mel(x).numpy(), expected["mel"], fcpe_mel_bound(x), "FCPE mel")
    salience = fcpe.salience([x])[0].numpy()
    assert_within(salience, expected["latent"], salience_bound("fcpe", x, salience), "FCPE latent")
    for key, decoder, threshold in (("f0_local_argmax_0_006", "local_argmax", 0.006),
                                    ("f0_argmax_0_006", "argmax", 0.006),
                                    ("f0_local_argmax_0_05", "local_argmax", 0.05)):
        fcpe.decoder, fcpe.threshold = decoder, threshold
        voicing, within = agreement(fcpe.extract([x])[0], expected[key])
        assert voicing >= 0.99 and within >= 0.99, (key, voicing, within)
    fcpe.decoder, fcpe.threshold = "local_argmax", 0.006


def test_rmvpe_equals_rvcs_own_inference(rmvpe):
    x, expected = np.load(RMVPE_FIXTURE / "input.npy"), np.load(RMVPE_FIXTURE / "expected.npz")
    assert_within(rmvpe.mel(x).numpy(), expected["mel"].T, rmvpe_mel_bound(x), "RMVPE mel")
    salience = rmvpe.salience([x])[0].numpy()
    assert_within(salience, expected["hidden"], salience_bound("rmvpe", x, salience, RMVPE_FIXTURE / "rmvpe.pt"),
                  "RMVPE salience")
    for key, threshold in (("f0_thred_0_03", 0.03), ("f0_thred_0", 0.0)):
        rmvpe.threshold = threshold
        voicing, within = agreement(rmvpe.extract([x])[0], expected[key])
        assert voicing >= 0.99 and within >= 0.99, (key, voicing, within)
    rmvpe.threshold = 0.03


@pytest.mark.parametrize("bug", ["symmetric window", "fmin 0", "no reflect padding"])
def test_the_mel_bound_rejects_a_realistic_mistake(bug):
    """The float32 bound is loose on quiet bins, tight on loud ones: a mel made with another window, another band
    edge or another padding falls outside it (the bound would let none of these through)."""
    x, expected = np.load(RMVPE_FIXTURE / "input.npy"), np.load(RMVPE_FIXTURE / "expected.npz")["mel"].T
    window = torch.hann_window(1024, periodic=bug != "symmetric window")
    filters = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=0 if bug == "fmin 0" else 30, fmax=8000,
                                  htk=True)
    padded = torch.nn.functional.pad(torch.from_numpy(x)[None, None], (512, 512),
                                     mode="constant" if bug == "no reflect padding" else "reflect")[0, 0]
    magnitude = torch.stft(padded, 1024, 160, 1024, window=window, center=False, return_complex=True).abs()
    mistaken = torch.log(torch.clamp(torch.from_numpy(filters) @ magnitude, min=1e-5)).T.numpy()
    with pytest.raises(AssertionError, match="outside the float32 bound"):
        assert_within(mistaken, expected, rmvpe_mel_bound(x), bug)


@pytest.mark.parametrize("name", ["fcpe", "rmvpe"])
def test_batched_equals_one_by_one_and_long_clips_run_in_exact_windows(name, fcpe, rmvpe):
    tracker = {"fcpe": fcpe, "rmvpe": rmvpe}[name]
    x = np.load((FCPE_FIXTURE if name == "fcpe" else RMVPE_FIXTURE) / "input.npy")
    clips = [x, 0.5 * x[:17000], np.roll(x, 3000)[:9001], x[:2000]]
    alone = [tracker.salience([c])[0] for c in clips]
    batched = tracker.salience(clips)
    for clip, a, b in zip(clips, alone, batched, strict=True):
        assert a.shape == b.shape == (len(clip) // 160 + 1, 360)
        assert torch.max(torch.abs(a - b)) <= 1e-4 * torch.max(torch.abs(a)), name
    window, context = tracker.window_frames, tracker.context_frames
    try:  # windows of 64 frames (FCPE's context covers its receptive field: exact; RMVPE's GRU sees 32 frames less)
        tracker.window_frames, tracker.context_frames = 64, (96 if name == "fcpe" else 32)
        assert len(plan_windows([len(alone[0])], tracker.window_frames, tracker.context_frames)) > 2
        windowed = tracker.salience([x])[0]
    finally:
        tracker.window_frames, tracker.context_frames = window, context
    assert windowed.shape == alone[0].shape
    if name == "fcpe":  # windows differ from the whole clip by float32 rounding alone (one window short: ~3e-4)
        rounding = torch.max(torch.abs(alone[0].double() - float64_salience(x)))
        assert torch.max(torch.abs(windowed.double() - alone[0].double())) <= 2 * rounding


def float64_salience(x):
    """FCPE's salience with its network in float64: how far float32 rounding alone moves the same computation
    on this CPU."""
    return load_pitch_tracker("fcpe", device="cpu", dtype=torch.float64).salience([x])[0].double()


def test_full_size_rmvpe_in_both_published_forms(tmp_path):
    plain = tiny_models.save_rmvpe(tmp_path / "rmvpe.pt", full_size=True)
    wrapped = tiny_models.save_rmvpe(tmp_path / "model.pt", full_size=True, wrapped=True)
    state = torch.load(plain, weights_only=True)
    assert len(state) == 741 and sum(v.numel() for k, v in state.items() if "num_batches" not in k
                                     and "running" not in k) > 90e6
    x = np.load(RMVPE_FIXTURE / "input.npy")[:8000]
    a = load_pitch_tracker("rmvpe", plain, device="cpu")
    b = load_pitch_tracker("rmvpe", wrapped, device="cpu")
    weights_a, weights_b = a.net.state_dict(), b.net.state_dict()
    assert weights_a.keys() == weights_b.keys() and all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    salience = a.salience([x, x[:5000]])
    for clip, batched in zip((x, x[:5000]), salience, strict=True):
        alone = b.salience([clip])[0]
        assert torch.max(torch.abs(batched - alone)) <= 1e-4 * torch.max(alone)


def test_the_native_track_api(rmvpe):
    wav = known_pitch_clip(44100, 1.0, (), seed=1)
    times, f0 = rmvpe.native_track(wav, sample_rate=44100)
    length_16k = int(round(len(wav) * 16000 / 44100))
    assert len(f0) == len(times) == length_16k // 160 + 1
    np.testing.assert_allclose(times[:3], [0.0, 0.01, 0.02])


def test_fcpe_follows_a_known_sung_line_on_the_mel_grid(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    sf.write(corpus / "line.wav", known_pitch_clip(24000, 3.0, GAPS, seed=0), 24000)
    result = CliRunner().invoke(app, ["pitch", str(corpus), "--out", str(tmp_path / "o"), "--method", "fcpe"])
    assert result.exit_code == 0, result.output
    f0 = np.load(tmp_path / "o" / "pitches" / "line.npy")
    centres = PRESET.frame_centre_seconds(len(f0))
    truth_voiced = known_voicing(centres, GAPS)
    changes = np.array([0.0, *[e for g in GAPS for e in g]])
    away = np.min(np.abs(centres[:, None] - changes[None]), axis=1) > 0.06
    scored = away & truth_voiced & (f0 > 0)
    assert np.median(cents(f0[scored], known_f0(centres[scored]))) <= 5.0
    assert np.mean((f0 > 0)[away] == truth_voiced[away]) >= 0.95


def test_wrong_checkpoints_are_one_line_usage_errors_before_any_audio_is_read(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    sf.write(corpus / "a.wav", np.zeros(16000, np.float32), 16000)
    hubert = tiny_models.save_fairseq_contentvec(tmp_path / "hubert.pt")
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes((RMVPE_FIXTURE / "rmvpe.pt").read_bytes()[:50000])
    fcpe_file = Path(tmp_path / "fcpe.pt")
    from svcprep.pitch.fcpe import bundled_checkpoint

    fcpe_file.write_bytes(bundled_checkpoint().read_bytes())
    cases = {"rmvpe": [(hubert, "HuBERT/ContentVec checkpoint, not RMVPE"), (truncated, "trunc.pt"),
                       (fcpe_file, "FCPE checkpoint, not RMVPE")],
             "fcpe": [(RMVPE_FIXTURE / "rmvpe.pt", "RMVPE checkpoint, not FCPE"), (hubert, "not a torchfcpe")]}
    for method, items in cases.items():
        for model, expected in items:
            result = CliRunner().invoke(app, ["pitch", str(corpus), "--out", str(tmp_path / "o"), "--method", method,
                                              "--model", str(model)])
            assert result.exit_code == 2 and expected in result.output, result.output
            assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    with pytest.raises(ConfigError, match="--model rmvpe=PATH"):
        load_pitch_tracker("rmvpe")
    with pytest.raises(CheckpointError):
        load_pitch_tracker("rmvpe", truncated)


def test_a_clip_too_short_for_rmvpe_fails_at_the_pitch_stage_and_the_run_goes_on(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    sf.write(corpus / "ok.wav", known_pitch_clip(24000, 1.0, (), seed=2), 24000)
    sf.write(corpus / "tiny.wav", np.full(600, 0.1, np.float32), 24000)  # 400 samples at 16 kHz < 513
    result = CliRunner().invoke(app, ["pitch", str(corpus), "--out", str(tmp_path / "o"), "--method", "rmvpe",
                                      "--model", str(RMVPE_FIXTURE / "rmvpe.pt"), "--num-workers", "0"])
    assert result.exit_code == 1 and "done 1" in result.output, result.output
    record = json.loads((tmp_path / "o" / "_failures.jsonl").read_text().splitlines()[0])
    assert record["uid"] == "tiny" and record["stage"] == "pitch" and "rmvpe" in record["reason"]


def test_run_configs_take_pitch_method_and_threshold_from_set(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    sf.write(corpus / "a.wav", known_pitch_clip(24000, 1.0, (), seed=3), 24000)
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"corpus": str(corpus), "out": str(tmp_path / "o"), "mels": True,
                                  "pitch": {"method": "dio"}}))
    result = CliRunner().invoke(app, ["run", "-c", str(config), "--set", "pitch.method=rmvpe", "--set",
                                      "pitch.threshold=0.05", "--model", f"rmvpe={RMVPE_FIXTURE / 'rmvpe.pt'}"])
    assert result.exit_code == 0, result.output
    from svcprep.store.bookkeeping import Bookkeeping

    record = Bookkeeping(tmp_path / "o").read_record("pitches")
    assert record.settings["pitch"]["method"] == "rmvpe" and record.settings["pitch"]["threshold"] == 0.05
    assert len(record.settings["tracker_sha256"]) == 64
