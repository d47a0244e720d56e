"""Applio's model dir from one run, held to Applio's own rules written out independently (tests/peer_rules.py:
its loading and soxr_vhq resampling, "Automatic" cutting, "post" normalisation, coarse pitch), its training configs
(tests/fixtures/applio_configs, copied from Applio), its file list and model_info.json; resume and bad input."""

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.corpus.records import StageRecords
from svcprep.demo import tiny_models
from svcprep.demo.synthetic import known_pitch_clip
from svcprep.store.bookkeeping import Bookkeeping
from svcprep.verify import verify_root
from tests import peer_rules

CONFIGS = Path(__file__).parent / "fixtures" / "applio_configs"
PAUSES = ((4.0, 4.6), (9.0, 9.5))


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    root = tmp_path_factory.mktemp("applio") / "takes"
    for singer, name, rate, seconds, seed in (("bob", "b1", 44100, 12.0, 2), ("alice", "a1", 48000, 14.0, 1),
                                              ("alice", "a2", 32000, 7.5, 3)):
        (root / singer).mkdir(parents=True, exist_ok=True)
        take = known_pitch_clip(rate, seconds, PAUSES, seed=seed)
        sf.write(root / singer / f"{name}.wav", np.stack([take, 0.7 * take], axis=1), rate)
    sf.write(root / "bob" / "tiny.wav", known_pitch_clip(48000, 0.3, (), seed=9), 48000)  # below any piece
    return root


def run_applio(takes, out, content_model, *extra):
    return cli("run", "-c", "applio", "--corpus", takes, "--out", out, "--model", f"contentvec={content_model}",
               "--set", "contentvec.layer=2", "--device", "cpu", *extra)


@pytest.fixture(scope="module")
def applio(tmp_path_factory, takes, content_model):
    out = tmp_path_factory.mktemp("applio_out") / "logs" / "voice"
    result = run_applio(takes, out, content_model)
    assert result.exit_code == 1, result.output  # the 0.3 s take makes no piece: recorded
    return out


def pieces_of(out):
    key = json.loads((out / ".svcprep" / "recipe.json").read_text())["stages"]
    return {take: [(id.index, span.start, span.end) for id, span in leaves]
            for take, leaves in StageRecords(Bookkeeping(out), key, "read").load().items()}


def test_names_are_speaker_take_piece_and_pieces_follow_the_automatic_cut(applio):
    pieces = pieces_of(applio)
    # singers sorted (alice 0, bob 1), takes sorted by uid (alice/a1 0, alice/a2 1, bob/b1 2, bob/tiny 3)
    names = sorted(p.stem for p in (applio / "sliced_audios").glob("*.wav"))
    expected = sorted(f"{sid}_{take}_{index}" for uid, sid, take in (("alice/a1", 0, 0), ("alice/a2", 0, 1),
                                                                     ("bob/b1", 1, 2))
                      for index, _, _ in pieces[uid])
    assert names == expected and len(names) >= 9
    for uid in ("alice/a1", "alice/a2", "bob/b1"):
        spans = sorted((start, end) for _, start, end in pieces[uid])
        # a segment's pieces: 3.0 s apart by 2.7 s, the last one the rest (at most 3.3 s)
        segment_start = spans[0][0]
        for start, end in spans:
            if start - segment_start > 0 and (start - segment_start) % int(40000 * 2.7) not in (0, 1, 2):
                segment_start = start  # a new slicer segment
            offset = start - segment_start
            rule = dict(peer_rules.applio_automatic_starts(offset + (end - start) + 10 ** 7, 40000))
            assert offset in rule, (uid, start, end)
            assert end - start == int(3.0 * 40000) or end - start <= 3.3 * 40000, (uid, start, end)


def test_pieces_and_16k_files_are_applios_preprocessing_of_the_take(applio, takes):
    pieces = pieces_of(applio)
    for uid, prefix in (("alice/a1", "0_0"), ("alice/a2", "0_1"), ("bob/b1", "1_2")):
        take = peer_rules.applio_load(takes / f"{uid}.wav", 40000)
        assert pieces[uid], uid
        for index, start, end in pieces[uid]:
            name = f"{prefix}_{index}"
            gt, rate = sf.read(applio / "sliced_audios" / f"{name}.wav", dtype="float32")
            reference = peer_rules.rvc_normalise(take[start:end])  # Applio's "post" mode: the same formula
            assert rate == 40000 and gt.shape == reference.shape
            assert np.abs(gt - reference).max() <= 1e-5, name
            wav16k, rate = sf.read(applio / "sliced_audios_16k" / f"{name}.wav", dtype="float32")
            expected = librosa.resample(gt, orig_sr=40000, target_sr=16000, res_type="soxr_vhq")
            assert rate == 16000 and wav16k.shape == expected.shape
            assert np.abs(wav16k - expected).max() <= 1e-5, name
            f0 = np.load(applio / "f0_voiced" / f"{name}.wav.npy")
            assert f0.dtype == np.float32 and f0.shape == (len(wav16k) // 160 + 1,)
            assert np.array_equal(np.load(applio / "f0" / f"{name}.wav.npy"), peer_rules.applio_coarse(f0))
            feature = np.load(applio / "extracted" / f"{name}.npy")
            assert feature.dtype == np.float32 and feature.shape == ((len(wav16k) - 400) // 320 + 1, 768)


def test_filelist_model_info_and_config_are_what_applios_training_reads(applio, takes):
    rows = [row.split("|") for row in (applio / "filelist.txt").read_text().splitlines()]
    pieces = [r for r in rows if "/mute/" not in r[0]]
    mutes = [r for r in rows if "/mute/" in r[0]]
    assert len(pieces) == len(list((applio / "sliced_audios").glob("*.wav")))
    for wav, feature, f0, f0nsf, sid in pieces:
        name = Path(wav).stem
        assert sid == name.split("_")[0] and all(Path(p).is_file() for p in (wav, feature, f0, f0nsf))
        assert (Path(feature).name, Path(f0).name, Path(f0nsf).name) == (f"{name}.npy", f"{name}.wav.npy",
                                                                          f"{name}.wav.npy")
    assert sorted(r[4] for r in mutes) == ["0", "0", "1", "1"]  # two mute rows per speaker
    assert all(Path(p).is_file() for r in mutes for p in r[:4])
    info = json.loads((applio / "model_info.json").read_text())
    total = sum(len(peer_rules.applio_load(takes / f"{uid}.wav", 40000)) / 40000
                for uid in ("alice/a1", "alice/a2", "bob/b1"))
    assert info["embedder_model"] == "contentvec" and info["speakers_id"] == 2
    assert info["total_seconds"] == pytest.approx(total, abs=1e-9)
    assert info["total_dataset_duration"] == f"00:00:{int(total):02}"
    assert json.loads((applio / "config.json").read_text()) == json.loads((CONFIGS / "40000.json").read_text())
    checks = verify_root(applio)
    assert checks and all(not c.problems for c in checks), [c.problems for c in checks if c.problems]


@pytest.mark.parametrize("rate", [32000, 48000])
def test_the_config_for_each_rate_is_applios(rate):
    from svcprep.recipes.applio_files import training_config

    assert training_config(rate) == json.loads((CONFIGS / f"{rate}.json").read_text())


def test_a_rerun_skips_everything_and_the_short_take_is_recorded(applio, takes, content_model):
    failures = [json.loads(line) for line in (applio / "_failures.jsonl").read_text().splitlines()]
    assert [f["uid"] for f in failures] == ["bob/tiny"] and failures[0]["stage"] == "slice"
    before = {p: p.stat().st_mtime_ns for p in applio.rglob("*.npy")}
    result = run_applio(takes, applio, content_model)
    # a take the slicer kept nothing of is not tried again; its record stays
    assert result.exit_code == 0 and "done 0," in result.output, result.output
    assert {p: p.stat().st_mtime_ns for p in applio.rglob("*.npy")} == before
    assert "bob/tiny" in (applio / "_failures.jsonl").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (("--set", "applio.sample_rate=44100"), "one of 32000, 40000, 48000"),
    (("--set", "applio.version=v1"), "v2 models only"),
    (("--set", "slice.sample_rate=44100"), "slices at its model rate"),
])
def test_bad_settings_exit_2_before_anything_is_written(tmp_path, takes, content_model, args, message):
    result = run_applio(takes, tmp_path / "out", content_model, *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_a_content_model_of_the_wrong_width_is_one_clear_line(tmp_path, takes):
    narrow = tiny_models.save_fairseq_contentvec(tmp_path / "cv32.pt")  # 32 wide: Applio reads 768
    result = run_applio(takes, tmp_path / "out", narrow)
    assert result.exit_code == 2 and "768" in result.output and len(result.output.strip().splitlines()) == 1, \
        result.output


def test_rvc_and_applio_in_one_pass_share_the_slicing_the_configs_agree_on(tmp_path, takes, content_model):
    models = ("--model", f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu")
    refused = cli("run", "-c", "rvc", "-c", "applio", "--corpus", takes, "--out", tmp_path / "no", *models)
    assert refused.exit_code == 2 and "share its corpus stages" in refused.output and not (tmp_path / "no").exists()
    for name in ("rvc", "applio"):  # both cut as Applio cuts: one decode and one slicing for both trees
        (tmp_path / f"{name}.yaml").write_text(f"recipe: {name}\nslice: applio\n")
    result = cli("run", "-c", tmp_path / "rvc.yaml", "-c", tmp_path / "applio.yaml", "--corpus", takes, "--out",
                 tmp_path / "trees", *models)
    assert result.exit_code == 1, result.output  # the 0.3 s take, in both trees
    assert "RVC:" in result.output and "Applio:" in result.output
    checks = verify_root(tmp_path / "trees")
    assert {c.name.split("/")[0] for c in checks} == {"rvc", "applio"}
    assert all(not c.problems for c in checks), [c.problems for c in checks if c.problems]
    rvc = sorted(np.load(p).shape[0] for p in (tmp_path / "trees" / "rvc" / "2b-f0nsf").glob("*.npy"))
    applio = sorted(np.load(p).shape[0] for p in (tmp_path / "trees" / "applio" / "f0_voiced").glob("*.npy"))
    assert rvc == applio and len(rvc) >= 9  # the same pieces
