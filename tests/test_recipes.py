"""so-vits-svc, DDSP-SVC and RVC trees from one run each, checked against the projects' own rules written out
independently (tests/peer_rules.py), against the known F0 of the corpus, and for resume, failures and bad input."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo import tiny_models
from svcprep.demo.synthetic import known_f0, known_pitch_clip, known_voicing
from tests import peer_rules
from tests.conftest import done_uids
from tests.crash_driver import CRASH_EXIT_CODE

ROOT = Path(__file__).resolve().parents[1]
GAPS = ((1.1, 1.4),)
# (uid, rate, seconds): several singers, 22.05 to 48 kHz, one 21 s clip
CLIPS = (("alice/a1", 22050, 2.2), ("alice/a2", 48000, 1.8), ("alice/a3", 44100, 2.0), ("bob/b1", 32000, 21.0),
         ("bob/b2", 24000, 2.1), ("bob/b3", 16000, 1.9))


def cents(a, b):
    return np.abs(1200 * np.log2(a / b))


def median_error(f0, times, start_seconds=0.0):
    """Median cents error of F0 on voiced frames away (60 ms) from voicing changes, frames at ``times``."""
    t = times + start_seconds
    changes = np.array([e for g in GAPS for e in g])
    away = np.min(np.abs(t[:, None] - changes[None]), axis=1) > 0.06
    scored = away & known_voicing(t, GAPS) & (f0 > 0)
    assert scored.sum() > 20
    return float(np.median(cents(f0[scored], known_f0(t[scored]))))


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes") / "corpus"
    for i, (uid, rate, seconds) in enumerate(CLIPS):
        path = root / f"{uid}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        gaps = GAPS if seconds < 5 else ()
        sf.write(path, known_pitch_clip(rate, seconds, gaps, seed=i), rate)
    return root


def short_clips(corpus, root):
    """A copy of the corpus without its long clip (five clips)."""
    for uid, _, seconds in CLIPS:
        if seconds < 5:
            (root / uid).parent.mkdir(parents=True, exist_ok=True)
            (root / f"{uid}.wav").write_bytes((corpus / f"{uid}.wav").read_bytes())
    return root


def run_recipe(name, corpus, out, model, *extra):
    return cli("run", "-c", name, "--corpus", corpus, "--out", out, "--model", f"contentvec={model}",
               "--set", "contentvec.layer=2", *extra)


# -- so-vits-svc ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sovits(tmp_path_factory, corpus, content_model):
    out = tmp_path_factory.mktemp("sovits") / "so-vits-svc"
    result = run_recipe("so-vits-svc", corpus, out, content_model)
    assert result.exit_code == 0, result.output
    assert "pitch: FCPE" in result.output
    return out


def sovits_files(out, uid):
    speaker, name = uid.split("/")
    return out / "dataset" / "44k" / speaker / name


def test_sovits_wavs_are_resample_py_output(sovits, corpus):
    assert CLIPS
    for uid, _, _ in CLIPS:
        ours, _ = sf.read(f"{sovits_files(sovits, uid)}.wav", dtype="int16")
        reference, _ = peer_rules.sovits_resample(str(corpus / f"{uid}.wav"))
        assert sf.info(f"{sovits_files(sovits, uid)}.wav").samplerate == 44100
        assert ours.shape == reference.shape and np.abs(ours.astype(int) - reference).max() <= 1, uid


def test_sovits_files_follow_its_own_formulas(sovits):
    assert CLIPS
    for uid, _, _ in CLIPS:
        base = sovits_files(sovits, uid)
        wav = sf.read(f"{base}.wav", dtype="int16")[0].astype(np.float32) / 32768.0
        frames = len(wav) // 512
        np.testing.assert_allclose(np.load(f"{base}.wav.vol.npy"), peer_rules.sovits_volume(wav), atol=1e-4)
        spec = torch.load(f"{base}.spec.pt", weights_only=True).numpy()
        np.testing.assert_allclose(spec, peer_rules.sovits_spectrogram(wav), atol=1e-4)
        f0, uv = np.load(f"{base}.wav.f0.npy", allow_pickle=True)  # as so-vits-svc's loader reads it
        f0, uv = np.array(f0, dtype=float), np.array(uv, dtype=float)
        assert len(f0) == len(uv) == spec.shape[1] == frames and (f0 > 0).all() and set(np.unique(uv)) <= {0.0, 1.0}
        soft = torch.load(f"{base}.wav.soft.pt", weights_only=True)
        length_16k = int(np.ceil(len(wav) * 16000 / 44100))
        assert soft.shape == (1, 768, (length_16k - 400) // 320 + 1) and soft.dtype == torch.float32


def test_sovits_f0_follows_the_known_line(sovits, corpus):
    assert CLIPS
    for uid, rate, _ in CLIPS:
        _, start = peer_rules.sovits_resample(str(corpus / f"{uid}.wav"))
        f0, uv = np.load(f"{sovits_files(sovits, uid)}.wav.f0.npy", allow_pickle=True)
        f0 = np.where(np.array(uv, dtype=float) > 0, np.array(f0, dtype=float), 0.0)
        times = (np.arange(len(f0)) + 0.5) * 512 / 44100
        assert median_error(f0, times, start / rate) <= 15.0, uid


def test_sovits_file_lists_and_fragment(sovits):
    train = (sovits / "filelists" / "train.txt").read_text().splitlines()
    val = (sovits / "filelists" / "val.txt").read_text().splitlines()
    assert len(val) == 4 and len(train) == 2  # so-vits' rule: two clips of each speaker to val
    for line in train + val:
        assert line.startswith("./dataset/44k/") and (sovits / line).is_file()
    fragment = json.loads((sovits / "svcprep_sovits.json").read_text())
    assert fragment["spk"] == {"alice": 0, "bob": 1} and fragment["model"]["n_speakers"] == 2
    assert fragment["model"]["ssl_dim"] == 768 and fragment["model"]["speech_encoder"] == "vec768l12"
    assert cli("verify", sovits).exit_code == 0


def test_sovits_diffusion_files(tmp_path, corpus, content_model):
    small = tmp_path / "c"
    (small / "alice").mkdir(parents=True)
    (small / "alice" / "a1.wav").write_bytes((corpus / "alice" / "a1.wav").read_bytes())
    out = tmp_path / "o"
    result = run_recipe("so-vits-svc", small, out, content_model, "--set", "so-vits-svc.diffusion=true",
                        "--set", "pitch.method=dio")
    assert result.exit_code == 0, result.output
    base = sovits_files(out, "alice/a1")
    wav = sf.read(f"{base}.wav", dtype="int16")[0].astype(np.float32) / 32768.0
    mel = np.load(f"{base}.wav.mel.npy")
    assert mel.shape == (len(wav) // 512, 128)
    np.testing.assert_allclose(mel, peer_rules.nsf_mel(wav), atol=1e-4)
    aug_mel, keyshift = np.load(f"{base}.wav.aug_mel.npy", allow_pickle=True)
    gain = float(np.median(np.load(f"{base}.wav.aug_vol.npy") / np.load(f"{base}.wav.vol.npy")))
    assert -5 <= keyshift <= 5 and 0.1 <= gain <= 10
    np.testing.assert_allclose(aug_mel, peer_rules.nsf_mel(wav * np.float32(gain), keyshift), atol=1e-3)


def test_sovits_bad_input(tmp_path, corpus, content_model):
    clash = tmp_path / "clash"
    for speaker in ("a b", "a_b"):
        (clash / speaker).mkdir(parents=True)
        (clash / speaker / "x.wav").write_bytes((corpus / "alice" / "a1.wav").read_bytes())
    result = run_recipe("so-vits-svc", clash, tmp_path / "o1", content_model)
    assert result.exit_code == 2 and "share the folder name" in result.output and not (tmp_path / "o1").exists()
    narrow = tiny_models.save_fairseq_contentvec(tmp_path / "narrow.pt")  # 32-d
    result = run_recipe("so-vits-svc", corpus, tmp_path / "o2", narrow)
    assert result.exit_code == 2 and "768-d" in result.output and not (tmp_path / "o2").exists()
    short = tmp_path / "short"
    (short / "s").mkdir(parents=True)
    (short / "s" / "ok.wav").write_bytes((corpus / "bob" / "b2.wav").read_bytes())
    sf.write(short / "s" / "tiny.wav", known_pitch_clip(44100, 0.2, (), seed=9), 44100)
    result = run_recipe("so-vits-svc", short, tmp_path / "o3", content_model, "--set", "pitch.method=dio")
    assert result.exit_code == 1, result.output
    failure = json.loads((tmp_path / "o3" / "_failures.jsonl").read_text().splitlines()[0])
    assert failure["uid"] == "s/tiny" and "0.3 s" in failure["reason"]
    listed = (tmp_path / "o3" / "filelists" / "val.txt").read_text()
    assert "ok.wav" in listed and "tiny" not in listed and not list((tmp_path / "o3").rglob("tiny.wav.soft.pt"))


def test_sovits_crash_then_resume_equals_an_uninterrupted_run(tmp_path, corpus, content_model, sovits):
    small = short_clips(corpus, tmp_path / "c")
    out = tmp_path / "o"
    args = ["run", "-c", "so-vits-svc", "--corpus", str(small), "--out", str(out), "--model",
            f"contentvec={content_model}", "--set", "contentvec.layer=2"]
    crash = subprocess.run([sys.executable, "-m", "tests.crash_driver", "after-append", "7", *args], cwd=ROOT,
                           capture_output=True, text=True)
    assert crash.returncode == CRASH_EXIT_CODE, crash.stdout + crash.stderr
    assert 0 < len(done_uids(out, "wav")) and not (out / "filelists").exists()
    resumed = subprocess.run([sys.executable, "-m", "svcprep", *args], capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-m", "svcprep", *args], capture_output=True, text=True)
    assert resumed.returncode == 0 and "done 0, skipped 5" in again.stdout, resumed.stderr + again.stdout
    for path in (out / "dataset").rglob("*.*"):
        assert path.read_bytes() == (sovits / path.relative_to(out)).read_bytes(), path


# -- DDSP-SVC ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ddsp(tmp_path_factory, corpus, content_model):
    out = tmp_path_factory.mktemp("ddsp") / "data"
    result = run_recipe("ddsp-svc", corpus, out, content_model)
    assert result.exit_code == 0, result.output
    return out


def ddsp_clips(out):
    return sorted(p.relative_to(out / split / "audio").as_posix() for split in ("train", "val")
                  for p in (out / split / "audio").rglob("*.wav"))


def ddsp_path(out, kind, rel):
    split = "val" if (out / "val" / "audio" / rel).exists() else "train"
    return out / split / kind / (rel if kind == "audio" else rel + ".npy")


def test_ddsp_tree_follows_its_own_formulas(ddsp, corpus, content_model):
    import librosa

    from svcprep import load_extractor

    rels = ddsp_clips(ddsp)
    assert len(rels) == len(CLIPS) and {r.split("/")[0] for r in rels} == {"1_alice", "2_bob"}
    extractor = load_extractor("contentvec-768-l12", content_model, layer=2)
    for rel in rels:
        source = corpus / rel.split("_", 1)[1]
        audio, sr = sf.read(ddsp_path(ddsp, "audio", rel), dtype="float32")
        reference = librosa.load(source, sr=44100)[0]
        assert sr == 44100 and audio.shape == reference.shape and np.abs(audio - reference).max() < 1e-5
        n = len(audio) // 512 + 1
        np.testing.assert_allclose(np.load(ddsp_path(ddsp, "volume", rel)), peer_rules.ddsp_volume(audio),
                                   atol=1e-4)
        mel = np.load(ddsp_path(ddsp, "mel", rel))
        assert mel.shape == (n - 1, 128)
        np.testing.assert_allclose(mel, peer_rules.nsf_mel(audio), atol=1e-4)
        native = extractor.extract([librosa.resample(audio, orig_sr=44100, target_sr=16000)])[0]
        units = np.load(ddsp_path(ddsp, "units", rel))
        np.testing.assert_allclose(units, native[peer_rules.ddsp_units_index(n, len(native))], atol=1e-4)
        f0 = np.load(ddsp_path(ddsp, "f0", rel))
        assert f0.shape == (n,) and (f0 > 0).all()


def test_ddsp_verify_lists_both_splits_and_flags_files_no_done_entry_owns(ddsp, tmp_path):
    import shutil

    out = tmp_path / "data"
    shutil.copytree(ddsp, out)
    assert cli("verify", out).exit_code == 0
    rel = ddsp_clips(out)[0]
    stray = rel[: -len(".wav")] + "_00009.wav"  # a piece of that clip no run made (or one an older run left)
    for kind in ("audio", "units", "f0", "volume", "mel"):
        source = ddsp_path(out, kind, rel)
        shutil.copy(source, source.parent / (stray.rsplit("/", 1)[1] + ("" if kind == "audio" else ".npy")))
    result = cli("verify", out)
    assert result.exit_code == 1 and "file present but not finished" in result.output, result.output


def test_ddsp_f0_follows_the_known_line(ddsp):
    assert ddsp_clips(ddsp)
    for rel in ddsp_clips(ddsp):
        f0 = np.load(ddsp_path(ddsp, "f0", rel))
        voiced = known_voicing(np.arange(len(f0)) * 512 / 44100, GAPS)  # filled: score the voiced frames only
        assert median_error(np.where(voiced, f0, 0), np.arange(len(f0)) * 512 / 44100) <= 15.0, rel


def test_ddsp_split_and_pitch_shift_tables(ddsp):
    val = sorted(p.relative_to(ddsp / "val" / "audio").as_posix() for p in (ddsp / "val" / "audio").rglob("*.wav"))
    assert len(val) == 2 and {v.split("/")[0] for v in val} == {"1_alice", "2_bob"}
    for split in ("train", "val"):
        table = np.load(ddsp / split / "pitch_aug_dict.npy", allow_pickle=True).item()
        rels = sorted(p.relative_to(ddsp / split / "audio").as_posix() for p in (ddsp / split / "audio").rglob("*.wav"))
        assert sorted(table) == rels
        for rel, keyshift in table.items():
            assert (keyshift == 0) if split == "val" else (-5 <= keyshift <= 5)
            audio = sf.read(ddsp / split / "audio" / rel, dtype="float32")[0]
            gain = float(np.median(np.load(ddsp / split / "aug_vol" / f"{rel}.npy")
                                   / np.load(ddsp / split / "volume" / f"{rel}.npy")))
            np.testing.assert_allclose(np.load(ddsp / split / "aug_mel" / f"{rel}.npy"),
                                       peer_rules.nsf_mel(audio * np.float32(gain), keyshift), atol=1e-3)
    assert cli("verify", ddsp).exit_code == 0


def test_ddsp_a_clip_with_no_voiced_frame_is_left_out_and_its_source_untouched(tmp_path, corpus, content_model):
    small = tmp_path / "c"
    (small / "s").mkdir(parents=True)
    (small / "s" / "ok.wav").write_bytes((corpus / "bob" / "b2.wav").read_bytes())
    sf.write(small / "s" / "noise.wav", 1e-3 * np.random.default_rng(0).standard_normal(24000).astype(np.float32),
             24000)
    digest = hashlib.sha256((small / "s" / "noise.wav").read_bytes()).hexdigest()
    result = run_recipe("ddsp-svc", small, tmp_path / "o", content_model)
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in (tmp_path / "o" / "_failures.jsonl").read_text().splitlines()]
    assert any(r["uid"] == "s/noise" and "no voiced frame" in r["reason"] for r in records)
    assert not list((tmp_path / "o").rglob("noise.wav.npy"))
    table = np.load(tmp_path / "o" / "train" / "pitch_aug_dict.npy", allow_pickle=True).item()
    assert list(table) == ["1_s/ok.wav"]
    assert hashlib.sha256((small / "s" / "noise.wav").read_bytes()).hexdigest() == digest


def test_ddsp_a_speaker_whose_train_clips_all_failed_is_named_by_the_run_and_by_verify(tmp_path, corpus,
                                                                                        content_model):
    from svcprep.recipes.speakers import ordered

    # a clip with no voiced frame, named so that the seeded val choice (before any clip runs) takes the good one
    noise = next(f"s/n{i}" for i in range(100) if ordered(["s/ok", f"s/n{i}"], 1234)[0] == "s/ok")
    small = tmp_path / "c"
    (small / "s").mkdir(parents=True)
    (small / "s" / "ok.wav").write_bytes((corpus / "bob" / "b2.wav").read_bytes())
    sf.write(small / f"{noise}.wav", 1e-3 * np.random.default_rng(0).standard_normal(24000).astype(np.float32),
             24000)
    result = run_recipe("ddsp-svc", small, tmp_path / "o", content_model)
    assert result.exit_code == 1 and "0 train / 1 val" in result.output, result.output
    assert "s: a val clip but no train clip" in result.output, result.output
    checked = cli("verify", tmp_path / "o")
    assert checked.exit_code == 1 and "a val clip but no train clip" in checked.output, checked.output


def test_ddsp_rerun_skips_everything_and_a_crash_then_resume_equals_an_uninterrupted_run(tmp_path, corpus,
                                                                                          content_model):
    small = short_clips(corpus, tmp_path / "c")
    reference = tmp_path / "reference"
    assert run_recipe("ddsp-svc", small, reference, content_model).exit_code == 0
    out = tmp_path / "o"
    args = ["run", "-c", "ddsp-svc", "--corpus", str(small), "--out", str(out), "--model",
            f"contentvec={content_model}", "--set", "contentvec.layer=2"]
    crash = subprocess.run([sys.executable, "-m", "tests.crash_driver", "after-append", "7", *args], cwd=ROOT,
                           capture_output=True, text=True)
    assert crash.returncode == CRASH_EXIT_CODE, crash.stdout + crash.stderr
    assert not (out / "train" / "pitch_aug_dict.npy").exists()  # the tree is not finished
    resumed = subprocess.run([sys.executable, "-m", "svcprep", *args], capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-m", "svcprep", *args], capture_output=True, text=True)
    assert resumed.returncode == 0 and "done 0, skipped 5" in again.stdout, resumed.stderr + again.stdout
    expected = sorted(p.relative_to(reference) for split in ("train", "val") for p in (reference / split).rglob("*")
                      if p.is_file())
    assert expected and expected == sorted(p.relative_to(out) for split in ("train", "val")
                                           for p in (out / split).rglob("*") if p.is_file())
    for rel in expected:
        assert (out / rel).read_bytes() == (reference / rel).read_bytes(), rel


# -- RVC and slicing ---------------------------------------------------------------------------------------------
PAUSES = ((8.0, 9.0), (16.0, 17.2))


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    root = tmp_path_factory.mktemp("takes") / "takes"
    (root / "alice").mkdir(parents=True)
    take = known_pitch_clip(48000, 25.0, PAUSES, seed=4)
    sf.write(root / "alice" / "take1.wav", np.stack([take, 0.8 * take], axis=1), 48000)  # stereo 48 kHz
    sf.write(root / "alice" / "silent.wav", np.zeros(48000 * 3, np.float32), 48000)
    sf.write(root / "alice" / "short.wav", known_pitch_clip(48000, 0.5, (), seed=5), 48000)
    (root / "alice" / "broken.wav").write_bytes(b"RIFF nope")
    return root


@pytest.fixture(scope="module")
def rvc(tmp_path_factory, takes, content_model):
    out = tmp_path_factory.mktemp("rvc") / "exp"
    result = run_recipe("rvc", takes, out, content_model)  # FCPE (no rmvpe.pt given): real weights, known F0
    assert result.exit_code == 1, result.output  # the silent, short and broken takes are recorded
    return out


def pieces_of(out):
    """take uid -> its pieces ``(index, start, end)`` (samples at 40 kHz), from the run's stage records."""
    from svcprep.corpus.records import StageRecords
    from svcprep.store.bookkeeping import Bookkeeping

    key = json.loads((out / ".svcprep" / "recipe.json").read_text())["stages"]
    return {take: [(id.index, span.start, span.end) for id, span in leaves]
            for take, leaves in StageRecords(Bookkeeping(out), key, "read").load().items()}


def test_rvc_cuts_fall_inside_the_pauses_and_pieces_fit_its_sampler(rvc):
    pieces = [(index, start / 40000, end / 40000) for index, start, end in pieces_of(rvc)["alice/take1"]]
    assert all(0.75 <= end - start <= 6.75 for _, start, end in pieces)
    hop, cuts, overlaps = 0.015, [], []
    for (k, _, b), (k2, c, _) in zip(pieces, pieces[1:], strict=False):
        if k2 != k + 1:
            continue  # a piece between them was dropped (shorter than 0.75 s)
        if c >= b:
            cuts += [b, c]  # the end of one silence-bounded part and the start of the next
        else:
            overlaps.append(b - c)
    assert len(cuts) >= 2 and all(any(lo - hop <= t <= hi + hop for lo, hi in PAUSES) for t in cuts), cuts
    assert overlaps and np.allclose(overlaps, 0.3, atol=1e-3)


@pytest.mark.parametrize("block", [1 << 20, 1000, 7])
def test_the_slicers_frame_rms_is_each_frames_own_rms_whatever_the_block(block):
    from svcprep.audio.slicing import frame_rms

    x = np.random.default_rng(5).standard_normal(20011).astype(np.float32)
    window, hop = 240, 60
    padded = np.concatenate([np.zeros(window // 2), x.astype(np.float64), np.zeros(window // 2)])
    direct = [np.sqrt(np.mean(padded[i : i + window] ** 2)) for i in range(0, len(padded) - window + 1, hop)]
    np.testing.assert_allclose(frame_rms(x, window, hop, block=block), direct, rtol=1e-9)


@pytest.mark.parametrize("block", [1 << 17, 1000, 97])  # one block; blocks shorter than the filter's response
def test_the_high_pass_equals_scipys_lfilter_whatever_the_block(block):
    from scipy import signal

    from svcprep.audio.filters import apply_filter, butter_highpass, impulse_response

    x = np.random.default_rng(3).standard_normal(40000 * 3)
    response = impulse_response(*butter_highpass(5, 48, 40000))
    assert len(response) > 1000
    reference = peer_rules.rvc_highpass(x, 40000)
    # the reference's own spread: its (b, a) recursion against the same filter as second-order sections
    spread = np.abs(reference - signal.sosfilt(signal.butter(5, 48, "high", fs=40000, output="sos"), x)).max()
    ours = apply_filter(x, response, block=block)
    assert ours.dtype == np.float32
    assert np.abs(ours - reference).max() <= 4 * spread


def test_rvc_pieces_are_its_preprocessing_of_the_take(rvc, takes):
    import librosa
    from scipy import signal

    take = librosa.load(takes / "alice" / "take1.wav", sr=40000)[0]  # mono, at the model rate
    filtered = peer_rules.rvc_highpass(take.astype(np.float64), 40000)
    sos = signal.butter(5, 48, "high", fs=40000, output="sos")
    bound = 10 * np.abs(filtered - signal.sosfilt(sos, take.astype(np.float64))).max() + 1e-4  # the reference's own
    assert pieces_of(rvc)["alice/take1"]
    for index, start, end in pieces_of(rvc)["alice/take1"]:
        name = f"alice_take1_{index}"
        gt, rate = sf.read(rvc / "0_gt_wavs" / f"{name}.wav", dtype="float32")
        reference = peer_rules.rvc_normalise(filtered[start:end])
        assert rate == 40000 and gt.shape == reference.shape and np.abs(gt - reference).max() <= bound, name
        wav16k, rate = sf.read(rvc / "1_16k_wavs" / f"{name}.wav", dtype="float32")
        assert rate == 16000 and len(wav16k) == int(np.ceil(len(gt) * 16000 / 40000))
        f0 = np.load(rvc / "2b-f0nsf" / f"{name}.wav.npy")
        assert f0.shape == (len(wav16k) // 160 + 1,)
        assert np.array_equal(np.load(rvc / "2a_f0" / f"{name}.wav.npy"), peer_rules.rvc_coarse(f0))
        feature = np.load(rvc / "3_feature768" / f"{name}.npy")
        assert feature.dtype == np.float32 and feature.shape == ((len(wav16k) - 400) // 320 + 1, 768)
        times = np.arange(len(f0)) * 0.01
        if (known_voicing(times + start / 40000, PAUSES).mean()) > 0.5:
            changes = np.array([e for g in PAUSES for e in g])
            t = times + start / 40000
            away = np.min(np.abs(t[:, None] - changes[None]), axis=1) > 0.06
            scored = away & known_voicing(t, PAUSES) & (f0 > 0)
            assert np.median(cents(f0[scored], known_f0(t[scored]))) <= 15.0, name


def test_rvc_filelist_mute_rows_and_failures(rvc):
    rows = (rvc / "filelist.txt").read_text().splitlines()
    assert len(rows) == len(pieces_of(rvc)["alice/take1"]) + 2
    for row in rows:
        fields = row.split("|")
        assert len(fields) == 5 and all(Path(p).is_file() for p in fields[:4]) and fields[4] == "0"
    assert sum("/mute/" in row for row in rows) == 2
    assert float(np.abs(sf.read(rvc / "mute" / "0_gt_wavs" / "mute.wav")[0]).max()) == 0.0
    assert "mute" in done_uids(rvc, "feature")  # the mute rows went through the run: done-lists, resume
    failed = {json.loads(line)["uid"] for line in (rvc / "_failures.jsonl").read_text().splitlines()}
    assert {"alice/silent", "alice/short", "alice/broken"} <= failed
    assert json.loads((rvc / "svcprep_rvc.json").read_text())["data"]["sampling_rate"] == 40000
    assert cli("verify", rvc).exit_code == 0


def test_rvc_mute_rows_are_an_entry_of_the_run_that_resumes_like_the_others(tmp_path, takes, content_model, rvc):
    import shutil

    out = tmp_path / "exp"
    shutil.copytree(rvc, out)
    (out / "mute" / "3_feature768" / "mute.npy").unlink()
    result = run_recipe("rvc", takes, out, content_model)
    ran = re.search(r"contentvec-768-l12 (\d+)", result.output)
    assert ran and int(ran.group(1)) == 1, result.output  # only the mute entry: no piece, no second model load
    for name in ("3_feature768/mute.npy", "0_gt_wavs/mute.wav", "2b-f0nsf/mute.wav.npy"):
        assert (out / "mute" / name).read_bytes() == (rvc / "mute" / name).read_bytes(), name


def test_rvc_settings_that_drop_every_piece_are_a_usage_error(tmp_path, takes, content_model):
    result = run_recipe("rvc", takes, tmp_path / "o", content_model, "--set", "slice.piece_seconds=0.4",
                        "--set", "slice.overlap_seconds=0.1")
    assert result.exit_code == 2 and "0.75" in result.output and not (tmp_path / "o").exists()


def test_rvc_kill_mid_take_resumes_without_redoing_finished_pieces(tmp_path, takes, content_model, rvc):
    small = tmp_path / "c" / "alice"
    small.mkdir(parents=True)
    (small / "take1.wav").write_bytes((takes / "alice" / "take1.wav").read_bytes())
    out = tmp_path / "o"
    args = ["run", "-c", "rvc", "--corpus", str(small.parent), "--out", str(out), "--model",
            f"contentvec={content_model}", "--set", "contentvec.layer=2"]
    crash = subprocess.run([sys.executable, "-m", "tests.crash_driver", "after-append", "14", *args], cwd=ROOT,
                           capture_output=True, text=True)
    assert crash.returncode == CRASH_EXIT_CODE, crash.stdout + crash.stderr
    features_before = done_uids(out, "feature")
    total = len(pieces_of(rvc)["alice/take1"])
    assert 0 < len(features_before) < total
    resumed = subprocess.run([sys.executable, "-m", "svcprep", *args], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    ran = re.search(r"contentvec-768-l12 (\d+)", resumed.stdout)
    # every entry not finished before the kill runs once, the mute rows' included; finished pieces are not redone
    assert ran and int(ran.group(1)) == total + 1 - len(features_before), resumed.stdout
    for path in (out / "3_feature768").glob("*.npy"):
        assert path.read_bytes() == (rvc / "3_feature768" / path.name).read_bytes()


def test_slice_command_writes_pieces_and_a_manifest_every_command_reads(tmp_path, takes):
    result = cli("slice", takes, "--out", tmp_path / "s", "--preset", "rvc")
    assert result.exit_code == 1, result.output  # silent / short / broken takes are recorded
    rows = [json.loads(line) for line in (tmp_path / "s" / "pieces.jsonl").read_text().splitlines()]
    assert rows and all((tmp_path / "s" / r["path"]).is_file() and r["singer"] == "alice" for r in rows)
    info = sf.info(tmp_path / "s" / rows[0]["path"])
    assert info.samplerate == 48000 and info.channels == 1
    again = cli("mel", tmp_path / "s" / "pieces.jsonl", "--out", tmp_path / "m", "--num-workers", "0")
    assert again.exit_code == 0 and f"done {len(rows)}" in again.output


# -- several recipes in one pass -----------------------------------------------------------------------------
def test_two_recipes_in_one_pass_decode_each_file_once_and_equal_separate_runs(tmp_path, corpus, content_model,
                                                                             sovits, tiny_models_by_name,
                                                                             monkeypatch):
    import svcprep.pipeline.decode as decode

    small = short_clips(corpus, tmp_path / "c")
    whisper = ["--model", f"whisper={tiny_models_by_name['whisper'][0]}"]
    models = ["--model", f"contentvec={content_model}", "--set", "contentvec.layer=2", "--set", "pitch.method=dio"]
    decoded = []
    real = decode.decode
    monkeypatch.setattr(decode, "decode", lambda path: decoded.append(path) or real(path))
    both = cli("run", "-c", "amphion-svc", "-c", "so-vits-svc", "--corpus", small, "--out", tmp_path / "both",
               *models, *whisper)
    assert both.exit_code == 0, both.output
    assert sorted(decoded) == sorted(small.rglob("*.wav"))  # each file decoded once for both trees
    for name in ("amphion-svc", "so-vits-svc"):
        alone = cli("run", "-c", name, "--corpus", small, "--out", tmp_path / name, *models,
                    *(whisper if name == "amphion-svc" else []))
        assert alone.exit_code == 0, alone.output
        files = [p for p in (tmp_path / name).rglob("*") if p.is_file() and ".svcprep" not in p.parts
                 and p.suffix != ".json"]
        assert files
        for path in files:
            assert path.read_bytes() == (tmp_path / "both" / name / path.relative_to(tmp_path / name)).read_bytes()
    assert cli("verify", tmp_path / "both").exit_code == 0



def test_configs_that_feed_a_model_the_same_audio_share_one_forward(tmp_path, corpus, content_model, monkeypatch):
    """Two trees on different mel grids (24 kHz / 256 and Vevo's 24 kHz / 480) from one ContentVec: one pass runs the
    model once per clip, and each tree equals its own run."""
    import svcprep.pipeline.models as models

    small = short_clips(corpus, tmp_path / "c")
    configs = []
    for preset in ("amphion-svc-24k", "vevo-24k"):
        config = tmp_path / f"{preset}.yaml"
        config.write_text(json.dumps({"recipe": "amphion", "preset": preset, "mels": True, "keep_native": True,
                                      "extractors": [{"name": "contentvec", "model": str(content_model),
                                                      "options": {"layer": 2}}]}))
        configs.append(config)
    forwards = []
    real = models.extract_clips
    monkeypatch.setattr(models, "extract_clips", lambda model, waves: forwards.extend(waves) or real(model, waves))
    both = cli("run", "-c", configs[0], "-c", configs[1], "--corpus", small, "--out", tmp_path / "both")
    assert both.exit_code == 0, both.output
    num_clips = len(list(small.rglob("*.wav")))
    assert len(forwards) == num_clips  # each clip through the model once, for both trees
    for config in configs:
        alone = cli("run", "-c", config, "--corpus", small, "--out", tmp_path / config.stem)
        assert alone.exit_code == 0, alone.output
        files = [p for p in (tmp_path / config.stem).rglob("*.npy") if ".svcprep" not in p.parts]
        assert len(files) == 3 * num_clips  # mels, aligned and native ContentVec
        for path in files:
            assert path.read_bytes() == (tmp_path / "both" / config.stem / path.relative_to(tmp_path / config.stem)
                                         ).read_bytes()

# -- verify reads each trainer's tree --------------------------------------------------------------------------
def _transpose_a_ddsp_mel(out):
    path = sorted((out / "train" / "mel").rglob("*.npy"))[0]
    np.save(path, np.load(path).T.copy())  # (n_mels, T): what made DDSP-SVC 6.1's loader recurse forever
    return "as (T, n_mels)"


def _drop_a_speaker_from_spk(out):
    fragment = json.loads((out / "svcprep_sovits.json").read_text())
    del fragment["spk"]["bob"]
    (out / "svcprep_sovits.json").write_text(json.dumps(fragment))
    return "not in spk"


def _unfilled_sovits_f0(out):
    path = out / "dataset" / "44k" / "alice" / "a1.wav.f0.npy"
    f0 = np.load(path, allow_pickle=True)
    f0[0] = np.where(f0[1] > 0, f0[0], 0.0)  # unvoiced frames left at zero, as a raw tracker gives them
    np.save(path, f0, allow_pickle=True)
    return "holds a zero"


def _rvc_coarse_pitch_off_by_one(out):
    path = sorted((out / "2a_f0").glob("*.npy"))[0]
    np.save(path, np.load(path) + 1)
    return "2a_f0 is not RVC's coarse pitch"


def _rvc_coarse_pitch_deleted(out):
    sorted((out / "2a_f0").glob("*.npy"))[0].unlink()
    return "cannot be read"


def _no_ddsp_pitch_aug_dict(out):
    (out / "val" / "pitch_aug_dict.npy").unlink()
    return "pitch_aug_dict.npy"


@pytest.mark.parametrize("tree, damage", [("sovits", _unfilled_sovits_f0), ("sovits", _drop_a_speaker_from_spk),
                                          ("ddsp", _transpose_a_ddsp_mel), ("ddsp", _no_ddsp_pitch_aug_dict),
                                          ("rvc", _rvc_coarse_pitch_off_by_one), ("rvc", _rvc_coarse_pitch_deleted)])
def test_verify_flags_what_each_trainers_loader_would_trip_on(tree, damage, request, tmp_path):
    """A copy of a finished tree verifies clean; damaged as a user or a peer's script might, it fails with the
    recipe's own words (never a traceback, also for a deleted file)."""
    import shutil

    original = request.getfixturevalue(tree)
    copy = tmp_path / original.name
    shutil.copytree(original, copy)  # (RVC's file list names the original's absolute paths, which still exist)
    before = cli("verify", copy)
    expected = damage(copy)
    after = cli("verify", copy)
    assert before.exit_code == 0, before.output
    assert after.exit_code == 1 and expected in after.output, after.output


# -- a tree follows its corpus --------------------------------------------------------------------------------
def tree_files(out):
    """Every file a trainer reads (relative path -> bytes), bookkeeping and the run's own absolute paths aside."""
    files = {}
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out).as_posix()
        if path.is_file() and not relative.startswith((".svcprep", "_failures")):
            files[relative] = path.read_bytes().replace(str(out.resolve()).encode(), b"<OUT>")
    return files


def test_ddsp_tree_follows_a_changed_corpus_or_refuses_to_mix_layouts(tmp_path, corpus, content_model):
    import shutil

    source = short_clips(corpus, tmp_path / "c")
    out = tmp_path / "data"
    assert run_recipe("ddsp-svc", source, out, content_model).exit_code == 0
    # a singer whose name sorts first shifts every speaker id: refused, nothing moved
    (source / "aaron").mkdir()
    shutil.copy(source / "alice" / "a1.wav", source / "aaron" / "x1.wav")
    before = tree_files(out)
    result = run_recipe("ddsp-svc", source, out, content_model)
    assert result.exit_code == 2 and "speaker_ids: added 'aaron'" in result.output, result.output
    assert "--overwrite" in result.output and len(result.output.strip().splitlines()) == 1
    assert tree_files(out) == before
    # --overwrite rebuilds it: the tree a fresh run writes, no folder of the old ids left
    assert run_recipe("ddsp-svc", source, out, content_model, "--overwrite").exit_code == 0
    assert run_recipe("ddsp-svc", source, tmp_path / "fresh", content_model).exit_code == 0
    assert tree_files(out) == tree_files(tmp_path / "fresh")
    assert cli("verify", out).exit_code == 0
    # a source deleted (not a val clip): its files leave the tree, which again equals a fresh run's
    val = set(json.loads((out / ".svcprep" / "recipe.json").read_text())["val"])
    gone = next(uid for uid in ("alice/a1", "alice/a2", "alice/a3") if uid not in val)
    (source / f"{gone}.wav").unlink()
    result = run_recipe("ddsp-svc", source, out, content_model)
    assert result.exit_code == 0 and "removed" in result.output, result.output
    shutil.rmtree(tmp_path / "fresh")
    assert run_recipe("ddsp-svc", source, tmp_path / "fresh", content_model).exit_code == 0
    assert tree_files(out) == tree_files(tmp_path / "fresh")
    assert cli("verify", out).exit_code == 0


def test_overwrite_with_other_slicing_settings_leaves_the_tree_a_fresh_run_writes(tmp_path, takes):
    out, fresh = tmp_path / "s", tmp_path / "fresh"
    assert cli("slice", takes, "--out", out, "--preset", "rvc").exit_code == 1  # the broken takes are recorded
    other = ("--set", "slice.piece_seconds=2.5", "--set", "slice.overlap_seconds=0.2")
    assert cli("slice", takes, "--out", out, "--preset", "rvc", *other, "--overwrite").exit_code == 1
    assert cli("slice", takes, "--out", fresh, "--preset", "rvc", *other).exit_code == 1
    assert tree_files(out) == tree_files(fresh) and any(name.startswith("pieces/") for name in tree_files(out))
    assert cli("verify", out).exit_code == 0


def test_in_a_joint_pass_each_tree_records_its_own_reason(tmp_path, corpus, content_model):
    """so-vits-svc's view of a silent clip (its peak normalisation would divide by zero) is that project's failure;
    DDSP-SVC's tree records why DDSP-SVC could not use the clip, not so-vits-svc's reason."""
    small = short_clips(corpus, tmp_path / "c")
    sf.write(small / "alice" / "silent.wav", np.zeros(22050, np.float32), 22050)
    result = cli("run", "-c", "so-vits-svc", "-c", "ddsp-svc", "--corpus", small, "--out", tmp_path / "o",
                 "--model", f"contentvec={content_model}", "--set", "contentvec.layer=2")
    assert result.exit_code == 1, result.output

    def reasons(tree):
        return {r["reason"] for line in (tmp_path / "o" / tree / "_failures.jsonl").read_text().splitlines()
                if (r := json.loads(line))["uid"] == "alice/silent"}

    assert any("silent throughout" in reason for reason in reasons("so-vits-svc"))
    assert reasons("ddsp-svc") and not any("silent throughout" in reason for reason in reasons("ddsp-svc"))
    assert any("no voiced frame" in reason for reason in reasons("ddsp-svc"))


def test_a_sharded_run_removes_the_files_of_a_source_gone_from_the_corpus(tmp_path, corpus, content_model):
    source = short_clips(corpus, tmp_path / "c")
    out = tmp_path / "data"
    for shard in ("0/2", "1/2"):
        assert run_recipe("ddsp-svc", source, out, content_model, "--shard", shard).exit_code == 0
    val = set(json.loads((out / ".svcprep" / "recipe.json").read_text())["val"])
    gone = next(uid for uid in ("alice/a1", "alice/a2", "alice/a3") if uid not in val)  # val stays as it was
    (source / f"{gone}.wav").unlink()
    result = run_recipe("ddsp-svc", source, out, content_model, "--shard", "0/2")  # whichever shard had it
    assert result.exit_code == 0 and "removed" in result.output, result.output
    assert not [p for p in out.rglob("*") if gone.split("/")[1] in p.name and ".svcprep" not in p.parts]
    assert run_recipe("ddsp-svc", source, tmp_path / "fresh", content_model).exit_code == 0
    assert tree_files(out) == tree_files(tmp_path / "fresh")
    assert cli("verify", out).exit_code == 0


def test_a_corpus_dir_that_cannot_be_read_loses_no_file_of_the_tree(tmp_path, corpus, content_model, monkeypatch):
    import os

    from svcprep.recipes.speakers import ordered

    source = short_clips(corpus, tmp_path / "c")
    alice = [f"alice/{p.stem}" for p in (source / "alice").glob("*.wav")]
    name = next(f"x{i}" for i in range(100) if ordered([*alice, f"alice/extra/x{i}"], 1234)[0] != f"alice/extra/x{i}")
    (source / "alice" / "extra").mkdir()
    (source / "alice" / "extra" / f"{name}.wav").write_bytes((source / "alice" / "a1.wav").read_bytes())
    out = tmp_path / "data"
    assert run_recipe("ddsp-svc", source, out, content_model).exit_code == 0
    before = tree_files(out)
    real_scandir = os.scandir

    def scandir(path="."):  # a dir unreadable for a while (a permission, a share not mounted)
        if os.fspath(path).endswith("/extra"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = run_recipe("ddsp-svc", source, out, content_model)
    assert result.exit_code == 1 and "removed" not in result.output, result.output  # the scan failure is reported
    assert {n for n in tree_files(out) if name in n} == {n for n in before if name in n} != set()
