"""Seed-VC's clip folder from raw takes, held to its fine-tuning's own rules written out from its source
(``data/ft_dataset.py`` at d334fb7: every file ending in .wav/.mp3/.flac/.ogg/.m4a/.opus under --dataset-dir is an
item, ``librosa.load(sr=preset rate)``, an item outside ``sr·1``-``sr·30`` samples swapped for a random other one;
``train.py`` reads ``preprocess_params``): clips cover the takes' sung time, nothing else is audio, the preset loads,
short takes are reported, verify and report know its limits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import yaml
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.corpus.records import StageRecords
from svcprep.demo.synthetic import known_pitch_clip
from svcprep.store.bookkeeping import Bookkeeping

FT_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus")  # ft_dataset.py: what os.walk keeps
TAKES = {  # uid: (rate, seconds, pauses in seconds)
    "alice/long": (48000, 42.0, ((5.0, 5.6),)),  # a 36 s stretch without a pause: cut at 30 s
    "alice/short": (44100, 0.6, ()),
    "bob/b1": (44100, 12.0, ((5.0, 5.5),)),
}


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def ft_items(root: Path) -> list[Path]:
    """What Seed-VC's FT_Dataset collects: os.walk, file names ending in its suffixes."""
    return sorted(Path(r) / f for r, _, files in os.walk(root) for f in files if f.endswith(FT_SUFFIXES))


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed") / "takes"
    for index, (uid, (rate, seconds, pauses)) in enumerate(TAKES.items()):
        (root / uid).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / f"{uid}.wav", known_pitch_clip(rate, seconds, pauses, seed=index), rate)
    return root


@pytest.fixture(scope="module")
def seed(tmp_path_factory, takes):
    out = tmp_path_factory.mktemp("seed_out") / "dataset"
    result = cli("run", "-c", "seed-vc", "--corpus", takes, "--out", out)
    assert result.exit_code == 1, result.output  # the 0.6 s take gives no clip: reported
    return out, result.output


def test_every_item_seed_vc_walks_is_a_clip_it_trains_on_as_is(seed):
    out, _ = seed
    items = ft_items(out)
    assert len(items) >= 5 and all(p.suffix == ".wav" and p.parent.parent == out for p in items)
    for path in items:
        speech, rate = librosa.load(path, sr=44100)  # FT_Dataset's load at the preset's rate
        assert rate == 44100 and 44100 * 1.0 <= len(speech) <= 44100 * 30.0, path  # never swapped
        assert sf.info(str(path)).channels == 1 and sf.info(str(path)).samplerate == 44100  # nothing resampled
        assert np.max(np.abs(speech)) <= 1.0


def test_the_clips_cover_the_sung_time_of_each_take(seed):
    out, _ = seed
    key = json.loads((out / ".svcprep" / "recipe.json").read_text(encoding="utf-8"))["stages"]
    pieces = StageRecords(Bookkeeping(out), key, "read").load()
    for uid in ("alice/long", "bob/b1"):
        _, seconds, pauses = TAKES[uid]
        sung = np.ones(int(seconds * 1000), bool)  # in ms
        for a, b in pauses:
            sung[int(a * 1000):int(b * 1000)] = False
        covered = np.zeros_like(sung)
        spans = [span for _, span in pieces[uid]]
        assert spans
        for span in spans:
            covered[int(span.start / 44.1):int(span.end / 44.1)] = True
        assert covered[sung].mean() >= 0.98, uid
        assert all(1.0 <= (s.end - s.start) / 44100 <= 30.0 for s in spans)
    long_pieces = [(span.end - span.start) / 44100 for _, span in pieces["alice/long"]]
    assert max(long_pieces) == pytest.approx(30.0, abs=0.01)  # the stretch without a pause was cut at 30 s


def test_a_take_under_a_second_is_reported_never_silent(seed):
    out, output = seed
    failures = [json.loads(line) for line in (out / "_failures.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [f["uid"] for f in failures] == ["alice/short"] and "1, 30" in failures[0]["reason"]
    assert "1 take(s), 0.6 s in all, gave no clip" in output


def test_the_preset_beside_the_clips_loads_as_seed_vc_reads_it(seed):
    out, _ = seed
    path = out / "config_dit_mel_seed_uvit_whisper_base_f0_44k.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    spect = config["preprocess_params"]["spect_params"]
    # ft_dataset.py evaluates these .get defaults eagerly: a v1 preset alone raises KeyError
    mel_args = {"win_size": spect.get("win_length", spect["win_size"]),
                "hop_size": spect.get("hop_length", spect["hop_size"]),
                "num_mels": spect.get("n_mels", spect["num_mels"])}
    assert mel_args == {"win_size": 2048, "hop_size": 512, "num_mels": 128}
    assert config["preprocess_params"]["sr"] == 44100 and spect["fmax"] == "None"
    assert config["model_params"]["DiT"]["f0_condition"] is True  # the SVC preset
    assert path.suffix == ".yml" and path not in ft_items(out)


def test_a_22k_preset_writes_22k_clips(tmp_path, takes):
    out = tmp_path / "dataset"
    result = cli("run", "-c", "seed-vc", "--corpus", takes, "--out", out, "--set", "seed-vc.preset=vc-22k-wavenet")
    assert result.exit_code == 1, result.output
    items = ft_items(out)
    assert items and all(sf.info(str(p)).samplerate == 22050 for p in items)
    spect = yaml.safe_load((out / "config_dit_mel_seed_uvit_whisper_small_wavenet.yml").read_text())[
        "preprocess_params"]["spect_params"]
    assert spect["win_size"] == spect["win_length"] == 1024 and spect["num_mels"] == 80


def test_an_unknown_preset_is_a_usage_error(tmp_path, takes):
    result = cli("run", "-c", "seed-vc", "--corpus", takes, "--out", tmp_path / "o", "--set", "seed-vc.preset=48k")
    assert result.exit_code == 2 and "svc-44k" in result.output, result.output
    assert not (tmp_path / "o").exists()


def test_verify_flags_foreign_audio_and_a_clip_seed_vc_would_swap(seed, tmp_path):
    import shutil

    out, _ = seed
    copy = tmp_path / "dataset"
    shutil.copytree(out, copy)
    assert cli("verify", copy).exit_code == 0
    sf.write(copy / "bob" / "preview.flac", np.zeros(44100 * 2, np.float32), 44100)
    result = cli("verify", copy)
    assert result.exit_code == 1 and "bob/preview.flac" in result.output, result.output


def test_report_knows_seed_vcs_limits(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    for name, seconds in (("half", 0.5), ("ok", 5.0), ("long", 31.0)):
        sf.write(corpus / f"{name}.wav", known_pitch_clip(16000, seconds, (), seed=1), 16000)
    result = cli("report", corpus, "--out", tmp_path / "r", "--trainer", "seed-vc", "--no-pitch", "--workers", "0")
    assert result.exit_code in (0, 1), result.output
    flags = {c["uid"]: c["flags"] for c in json.loads((tmp_path / "r" / "report.json").read_text())["clips"]}
    assert "too_short" in flags["half"] and "too_long" in flags["long"]
    assert not {"too_short", "too_long"} & set(flags["ok"])


def test_with_rvc_the_run_refuses_to_guess_a_slicing_rate(tmp_path, takes, content_model):
    result = cli("run", "-c", "rvc", "-c", "seed-vc", "--corpus", takes, "--out", tmp_path / "o", "--model",
                 f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu")
    assert result.exit_code == 2 and "rvc 40000 Hz, seed-vc 44100 Hz" in result.output, result.output
    assert "slice.sample_rate" in result.output and not (tmp_path / "o").exists()


def test_with_rift_svc_one_run_writes_both_trees(tmp_path, takes, content_model):
    out = tmp_path / "o"
    result = cli("run", "-c", "seed-vc", "-c", "rift-svc", "--corpus", takes, "--out", out, "--model",
                 f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu")
    assert result.exit_code == 1, result.output  # the 0.6 s take, in both trees' failure logs
    assert cli("verify", out / "seed-vc").exit_code == 0 and cli("verify", out / "rift-svc").exit_code == 0
    clips = sorted(p.relative_to(out / "seed-vc").with_suffix("") for p in ft_items(out / "seed-vc"))
    pieces = sorted(p.relative_to(out / "rift-svc" / "data" / "finetune").with_suffix("")
                    for p in (out / "rift-svc" / "data" / "finetune").rglob("*.wav"))
    assert clips == pieces and len(clips) >= 5  # one slicing, the same pieces in both trees
