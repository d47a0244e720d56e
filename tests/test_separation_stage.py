"""Separation as the corpus's first stage: songs in, trainers' trees out, in one run; the stems on disk equal the
separator's in-memory output (itself held to the reference's numbers in test_separation.py); per-file problems
recorded, usage errors before any audio is read, a rerun resumes, an interrupted run leaves no partial file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.corpus.separation import SeparationChain, SeparationPass, separation_from_config
from svcprep.demo.synthetic import known_pitch_clip
from svcprep.errors import ConfigError
from svcprep.pipeline.separate_only import run_separation
from svcprep.separation.chunking import ChunkRule, TrackDemix
from svcprep.separation.separator import Separator, load_separator
from svcprep.verify import verify_root

FIXTURES = Path(__file__).parent / "fixtures" / "roformer_msst"
BS, MEL = FIXTURES / "bs_roformer.ckpt", FIXTURES / "mel_roformer.ckpt"
TOLERANCE = 1e-5


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def song(sample_rate: int, seconds: float, seed: int) -> np.ndarray:
    """A sung line over a square-wave accompaniment, stereo."""
    voice = known_pitch_clip(sample_rate, seconds, ((2.0, 2.6),), seed=seed)
    t = np.arange(len(voice)) / sample_rate
    accompaniment = 0.08 * np.sign(np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    return np.stack([voice + accompaniment, voice + 0.7 * accompaniment], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    root = tmp_path_factory.mktemp("songs") / "corpus"
    (root / "alice").mkdir(parents=True)
    sf.write(root / "alice" / "song1.wav", song(44100, 6.0, 1), 44100, subtype="FLOAT")
    sf.write(root / "alice" / "song2.flac", song(48000, 4.5, 2)[:, 0], 48000)  # mono, 48 kHz
    (root / "alice" / "broken.wav").write_bytes(b"RIFF not audio")
    nan = song(44100, 2.0, 3)
    nan[30000, 1] = np.nan
    sf.write(root / "alice" / "nan.wav", nan, 44100, subtype="FLOAT")
    sf.write(root / "alice" / "short.wav", np.zeros((300, 2), np.float32), 44100)
    return root


def run_config(directory: Path, **step) -> Path:
    path = directory / "songs.yaml"
    path.write_text(json.dumps({"recipe": "rvc", "separate": [{"model": str(BS), "also": ["residual"], **step}]}))
    return path


def run_songs(config: Path, corpus: Path, out: Path, content_model: Path, *extra):
    return cli("run", "-c", config, "-c", "so-vits-svc", "--corpus", corpus, "--out", out, "--device", "cpu",
               "--model", f"contentvec={content_model}", "--set", "contentvec.layer=2", *extra)


@pytest.fixture(scope="module")
def songs_run(tmp_path_factory, songs, content_model):
    directory = tmp_path_factory.mktemp("songs_run")
    config = run_config(directory)
    result = run_songs(config, songs, directory / "out", content_model)
    assert result.exit_code == 1, result.output  # the broken, NaN and short files are recorded
    return directory / "out", config


def expected_vocals(path: Path) -> np.ndarray:
    """The separator's output for the whole file, decoded and resampled at once (soxr HQ), in memory."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != 44100:
        audio = soxr.resample(audio, rate, 44100, quality="HQ").astype(np.float32)
    return load_separator(BS, device="cpu").separate(audio.T, residual=True)


def test_a_song_in_an_rvc_tree_and_a_so_vits_svc_tree_out(songs_run, songs):
    out, _ = songs_run
    for uid, name in (("alice/song1", "song1.wav"), ("alice/song2", "song2.flac")):
        expected = expected_vocals(songs / "alice" / name)
        vocals, rate = sf.read(out / "separated" / "1-vocals" / "vocals" / f"{uid}.wav", dtype="float32")
        residual, _ = sf.read(out / "separated" / "1-vocals" / "residual" / f"{uid}.wav", dtype="float32")
        assert rate == 44100 and vocals.shape == expected["vocals"].T.shape  # stereo, mono duplicated
        assert np.abs(vocals - expected["vocals"].T).max() <= TOLERANCE
        assert np.abs(residual - expected["residual"].T).max() <= TOLERANCE
    rvc_pieces = sorted(p.name for p in (out / "songs" / "0_gt_wavs").iterdir())
    assert {name.rsplit("_", 1)[0] for name in rvc_pieces} == {"alice_song1", "alice_song2"}
    sovits = sorted(p.name for p in (out / "so-vits-svc" / "dataset" / "44k" / "alice").glob("*.wav"))
    assert {name.rsplit("_", 1)[0] for name in sovits} == {"song1", "song2"}  # pieces of both songs
    checks = verify_root(out)
    assert {c.name.split("/")[0] for c in checks} == {"separated", "songs", "so-vits-svc"}
    assert all(not c.problems for c in checks), [c.problems for c in checks if c.problems]


def test_files_the_separator_cannot_read_are_recorded_and_the_run_goes_on(songs_run, songs):
    out, _ = songs_run
    for tree in ("songs", "so-vits-svc"):
        records = [json.loads(line) for line in (out / tree / "_failures.jsonl").read_text().splitlines()]
        by_uid = {r["uid"]: r for r in records if r["stage"] == "separate"}
        assert set(by_uid) == {"alice/broken", "alice/nan", "alice/short"}
        assert Path(by_uid["alice/nan"]["path"]) == songs / "alice" / "nan.wav"
        assert "NaN" in by_uid["alice/nan"]["reason"]
        assert "at least 1025" in by_uid["alice/short"]["reason"]
    assert not list((out / "separated").rglob("*.tmp"))


def test_a_rerun_loads_no_separator_and_other_settings_are_refused(songs_run, songs, content_model, monkeypatch,
                                                                     tmp_path):
    out, config = songs_run

    def no_model(*args, **kwargs):
        raise AssertionError("the separator was loaded although every track was done")

    monkeypatch.setattr(SeparationPass, "_load", no_model)
    before = (out / "separated" / "1-vocals" / "vocals" / "alice" / "song1.wav").stat().st_mtime_ns
    result = run_songs(config, songs, out, content_model)
    assert result.exit_code == 1, result.output
    assert (out / "separated" / "1-vocals" / "vocals" / "alice" / "song1.wav").stat().st_mtime_ns == before
    changed = run_config(tmp_path, num_overlap=4)
    result = run_songs(changed, songs, out, content_model)
    assert result.exit_code == 2 and "other settings" in result.output


def test_svcprep_separate_chains_steps_each_reading_what_the_last_kept(tmp_path, songs):
    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / "a" / "song1.wav").write_bytes((songs / "alice" / "song1.wav").read_bytes())
    out = tmp_path / "stems"
    result = cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--model", f"lead={MEL}",
                 "--keep", "vocals=residual", "--device", "cpu")
    assert result.exit_code == 0, result.output
    audio, _ = sf.read(corpus / "a" / "song1.wav", dtype="float32", always_2d=True)
    first = load_separator(BS, device="cpu").separate(audio.T, residual=True)["residual"]
    second = load_separator(MEL, device="cpu").separate(first)["vocals"]
    got, _ = sf.read(out / "vocals" / "residual" / "a" / "song1.wav", dtype="float32")
    assert np.abs(got - first.T).max() <= TOLERANCE
    got, _ = sf.read(out / "lead" / "vocals" / "a" / "song1.wav", dtype="float32")
    assert np.abs(got - second.T).max() <= TOLERANCE
    again = cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--model", f"lead={MEL}",
                "--keep", "vocals=residual", "--device", "cpu")
    assert again.exit_code == 0 and "skipped 2" in again.output
    checks = verify_root(out)
    assert [(c.name, c.files, c.ok, c.problems) for c in checks] == [("lead", 1, 1, []), ("vocals", 1, 1, [])]
    assert cli("verify", out).exit_code == 0
    with open(out / "lead" / "vocals" / "a" / "song1.wav", "r+b") as f:  # one sample changed on disk
        f.seek(1000)
        f.write(b"\x01\x02\x03\x04")
    problems = [p for c in verify_root(out) for p in c.problems]
    assert problems == [("vocals/a/song1", "changed since svcprep wrote it (sha256 differs)")]
    assert cli("verify", out).exit_code == 1


@pytest.mark.parametrize("args", [
    ("--model", f"vocals={BS}", "--keep", "other=residual"),
    ("--model", f"vocals={BS}", "--also", "vocals=bass"),
    ("--model", "vocals=missing.ckpt"),
    ("--model", f"vocals={BS}", "--config", f"vocals={FIXTURES / 'manifest.json'}"),
    ("--model", f"vocals={BS}", "--dtype", "float8"),
])
def test_usage_errors_exit_2_before_anything_is_read_or_written(tmp_path, songs, args):
    result = cli("separate", songs, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_run_interrupted_mid_track_leaves_no_partial_stem(tmp_path, songs, monkeypatch):
    calls = []
    real = Separator.run_chunks

    def interrupted(self, audio):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, audio)

    monkeypatch.setattr(Separator, "run_chunks", interrupted)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "song1.wav").write_bytes((songs / "alice" / "song1.wav").read_bytes())
    chain = separation_from_config([{"model": str(BS), "batch_size": 1}], tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_separation(corpus, tmp_path / "out", chain, device="cpu")
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".wav", ".tmp")]


def test_a_separate_step_is_checked_when_the_config_is_read(tmp_path):
    with pytest.raises(ConfigError, match="no such checkpoint"):
        separation_from_config([{"model": "nope.ckpt"}], tmp_path)
    with pytest.raises(ConfigError, match="unknown key"):
        separation_from_config([{"model": str(BS), "overlap": 2}], tmp_path)
    with pytest.raises(ConfigError, match="share the name"):
        separation_from_config([{"model": str(BS), "name": "a"}, {"model": str(MEL), "name": "a"}], tmp_path)
    chain = separation_from_config([{"model": str(BS)}, {"model": str(MEL), "name": "lead"}], tmp_path)
    assert isinstance(chain, SeparationChain) and [s.name for s in chain.steps] == ["1-vocals", "lead"]


def test_a_long_track_holds_one_chunk_of_input_and_output_at_a_time():
    rule = ChunkRule(chunk_size=44100, num_overlap=4)
    demix = TrackDemix(rule, channels=2, num_stems=1)
    rng = np.random.default_rng(0)
    block = 4410
    emitted = 0
    for _ in range(600):  # a minute of audio
        demix.push(rng.standard_normal((2, block)).astype(np.float32))
        for chunk in demix.ready():
            demix.add(chunk, np.ones((1, 2, rule.chunk_size), np.float32))
        emitted += demix.take_output().shape[-1]
        assert demix._input.shape[1] <= rule.chunk_size + rule.step + block
        assert demix._weight.shape[0] <= rule.chunk_size + rule.step
    demix.finish()
    for chunk in demix.ready():
        demix.add(chunk, np.ones((1, 2, rule.chunk_size), np.float32))
    emitted += demix.take_output().shape[-1]
    assert demix.done and emitted == 600 * block


def test_stems_of_a_track_gone_from_the_corpus_are_removed_by_the_next_whole_corpus_run(tmp_path, songs):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.wav", "b.wav"):
        (corpus / name).write_bytes((songs / "alice" / "song1.wav").read_bytes())
    out = tmp_path / "stems"
    args = ("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--also", "vocals=residual", "--device",
            "cpu")
    assert cli(*args).exit_code == 0
    (corpus / "b.wav").unlink()
    shard = cli(*args, "--shard", "0/2")  # one shard of the corpus does not see the others' tracks
    assert shard.exit_code == 0 and (out / "vocals" / "vocals" / "b.wav").is_file()
    result = cli(*args)
    assert result.exit_code == 0 and "removed 2 stem file(s)" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == \
        ["vocals/residual/a.wav", "vocals/vocals/a.wav"]


def test_a_checkpoint_copied_or_touched_is_the_same_step_and_new_weights_are_not(tmp_path, songs):
    import os
    import shutil

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.wav").write_bytes((songs / "alice" / "song1.wav").read_bytes())
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".ckpt", ".yaml"):
        shutil.copy(BS.with_suffix(suffix), models / f"vocals{suffix}")
    args = ("separate", corpus, "--out", tmp_path / "stems", "--model", f"vocals={models / 'vocals.ckpt'}",
            "--device", "cpu")
    assert cli(*args).exit_code == 0
    os.utime(models / "vocals.ckpt", ns=(1, 1))  # copied elsewhere, restored from a backup: same bytes
    again = cli(*args)
    assert again.exit_code == 0 and "skipped 1" in again.output, again.output
    import torch

    weights = torch.load(models / "vocals.ckpt", weights_only=True)
    weights["final_norm.gamma"] = weights["final_norm.gamma"] * 2  # retrained: other weights under the same name
    torch.save(weights, models / "vocals.ckpt")
    changed = cli(*args)
    assert changed.exit_code == 2 and "checkpoint_sha256" in changed.output, changed.output
