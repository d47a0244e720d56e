"""End to end through a real subprocess: every input kind, resume, shards, failures, provenance."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.cli.pipeline_cmds import device_commands
from svcprep.demo.synthetic import DEMO_FILES, SyntheticFile, write_corpus
from svcprep.outputs.records import GridRecord
from svcprep.store.bookkeeping import Bookkeeping
from tests.conftest import done_uids

ROOT = Path(__file__).resolve().parents[1]


def svcprep(*args, cwd=None, check_code=None):
    proc = subprocess.run([sys.executable, "-m", "svcprep", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if check_code is not None:
        assert proc.returncode == check_code, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root)
    return root


@pytest.fixture(scope="module")
def models(tiny_models_by_name):
    return {name: str(path) for name, (path, _) in tiny_models_by_name.items()}


def uids_of(directory: Path) -> set[str]:
    return {p.relative_to(directory).with_suffix("").as_posix() for p in directory.rglob("*.npy")}


def assert_rows_equal_mel_frames(out: Path, features: list[str]):
    mels = uids_of(out / "mels")
    assert mels
    for feature in features:
        assert uids_of(out / feature) == mels
        for uid in mels:
            assert np.load(out / feature / f"{uid}.npy").shape[0] == np.load(out / "mels" / f"{uid}.npy").shape[1]


def write_run_config(path: Path, corpus: Path, out: Path, models: dict, **extra) -> Path:
    config = {
        "corpus": str(corpus), "out": str(out), "preset": "amphion-svc-24k", "num_workers": 1,
        "extractors": [
            {"name": "whisper", "model": models["whisper"]},
            {"name": "contentvec", "model": models["contentvec"], "options": {"layer": 2, "proj": True}},
            {"name": "encodec_24khz", "model": models["encodec_24khz"], "feature_name": "encodec"},
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_on_audio_directory(tmp_path, corpus, models):
    out = tmp_path / "out"
    proc = svcprep("run", "--config", write_run_config(tmp_path / "run.yaml", corpus, out, models), check_code=0)
    assert "done 6, skipped 0" in proc.stdout and "× real time" in proc.stdout
    assert_rows_equal_mel_frames(out, ["whisper", "contentvec", "encodec"])
    record = Bookkeeping(out).read_record("contentvec")
    assert record.native_grid == GridRecord(16000, 320) and record.grid == GridRecord(24000, 256)
    assert len(record.settings["checkpoint_sha256"]) == 64
    assert record.settings["options"] == {"layer": 2, "proj": True, "chunk_seconds": 30.0, "overlap_seconds": 2.0}
    assert {p.name for p in (out / "contentvec").iterdir()} == {p.name for p in (out / "mels").iterdir()}
    again = svcprep("run", "--config", tmp_path / "run.yaml", check_code=0)
    assert "done 0, skipped 6" in again.stdout


def test_amphion_dataset_dir_outputs_beside_its_mels(tmp_path, corpus, models):
    dataset = tmp_path / "opencpop"
    dataset.mkdir()
    items = [{"Dataset": "opencpop", "Singer": "s", "Uid": f"opencpop_s_{i}", "Path": str(p), "Duration": 1.0}
             for i, p in enumerate(sorted(corpus.rglob("*.wav")))]
    (dataset / "train.json").write_text(json.dumps(items[:1]))
    (dataset / "test.json").write_text(json.dumps(items[1:]))
    svcprep("mel", dataset, "--num-workers", "0", check_code=0)
    svcprep("extract", dataset, "-e", "whisper", "--model", f"whisper={models['whisper']}", "--num-workers", "0",
            check_code=0)
    assert uids_of(dataset / "whisper") == {it["Uid"] for it in items}
    assert_rows_equal_mel_frames(dataset, ["whisper"])


def test_manifest_extract_reads_existing_mels(tmp_path, corpus, models):
    manifest = tmp_path / "m.jsonl"
    files = sorted(corpus.rglob("*.*"))
    manifest.write_text("".join(json.dumps({"uid": f"u{i}", "path": str(p)}) + "\n" for i, p in enumerate(files)))
    out = tmp_path / "out"
    svcprep("mel", manifest, "--out", out, check_code=0)
    # A mel one frame longer than the audio implies must win: the target is the mel file's frame count.
    mel = np.load(out / "mels" / "u0.npy")
    np.save(out / "mels" / "u0.npy", np.concatenate([mel, mel[:, -1:]], axis=1))
    svcprep("extract", manifest, "--out", out, "-e", "hubert", "--model", f"hubert={models['hubert']}",
            "--keep-native", "--save-dtype", "float16", check_code=0)
    assert_rows_equal_mel_frames(out, ["hubert"])
    assert np.load(out / "hubert" / "u0.npy").dtype == np.float16
    assert uids_of(out / "hubert_native") == uids_of(out / "mels")


def test_bad_files_are_reported_and_the_run_goes_on(tmp_path, corpus, models):
    broken = tmp_path / "broken"
    write_corpus(broken, DEMO_FILES[:2])
    (broken / "garbage.wav").write_bytes(b"RIFF not really")
    sf.write(broken / "tiny.wav", np.zeros(200, np.float32), 24000)
    out = tmp_path / "out"
    proc = svcprep("run", "--config", write_run_config(tmp_path / "r.yaml", broken, out, models), check_code=1)
    assert "done 2" in proc.stdout and "failed 2" in proc.stdout
    failures = [json.loads(line) for line in (out / "_failures.jsonl").read_text().splitlines()]
    stages = {(f["uid"], f["stage"], f.get("output")) for f in failures}
    assert ("garbage", "decode", None) in stages and ("tiny", "mel", "mels") in stages
    assert all(f["path"].endswith(".wav") and f["reason"] for f in failures)
    assert_rows_equal_mel_frames(out, ["whisper", "contentvec", "encodec"])


def test_short_clip_fails_per_extractor_only(tmp_path, models):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("ok.wav", 1.0, 16000, 1), SyntheticFile("short.wav", 0.02, 16000, 1)))
    out = tmp_path / "out"
    svcprep("extract", corpus, "--out", out, "-e", "hubert", "--model", f"hubert={models['hubert']}",
            "--tolerance", "4", check_code=1)
    failure = json.loads((out / "_failures.jsonl").read_text().splitlines()[0])
    assert failure["uid"] == "short" and failure["stage"] == "extract" and "receptive field" in failure["reason"]
    assert (out / "hubert" / "ok.npy").is_file()


def test_shards_union_equals_full_run(tmp_path, corpus, models):
    full, sharded = tmp_path / "full", tmp_path / "sharded"
    args = ["extract", corpus, "-e", "whisper", "--model", f"whisper={models['whisper']}", "--num-workers", "0"]
    svcprep(*args, "--out", full, check_code=0)
    for k in range(3):
        svcprep(*args, "--out", sharded, "--shard", f"{k}/3", check_code=0)
    assert uids_of(full / "whisper") == uids_of(sharded / "whisper")
    for uid in uids_of(full / "whisper"):
        np.testing.assert_array_equal(np.load(full / "whisper" / f"{uid}.npy"),
                                      np.load(sharded / "whisper" / f"{uid}.npy"))
    assert done_uids(sharded, "whisper") == uids_of(full / "whisper")


def test_settings_conflict_refuses_then_overwrite_redoes(tmp_path, corpus, models):
    out = tmp_path / "out"
    args = ["extract", corpus, "--out", out, "-e", "whisper", "--model", f"whisper={models['whisper']}",
            "--num-workers", "0"]
    svcprep(*args, check_code=0)
    proc = svcprep(*args, "--method", "nearest", check_code=2)
    assert "other settings" in proc.stderr and "method" in proc.stderr and "--overwrite" in proc.stderr
    proc = svcprep(*args, "--method", "nearest", "--overwrite", check_code=0)
    assert "done 6" in proc.stdout


def test_kill_minus_9_then_resume(tmp_path, models):
    corpus = tmp_path / "c"
    write_corpus(corpus, tuple(SyntheticFile(f"s/{i:02d}.wav", 6.0, 16000, 1) for i in range(24)))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "svcprep", "extract", str(corpus), "--out", str(out), "-e", "hubert",
            "--model", f"hubert={models['hubert']}", "--batch-seconds", "12", "--num-workers", "1",
            "--set", "hubert.chunk_seconds=2", "--set", "hubert.overlap_seconds=0.5"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def finished() -> set[str]:
        try:
            return done_uids(out, "hubert")
        except Exception:  # noqa: BLE001 - the record may be mid-write
            return set()

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(finished()) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = finished()
    assert 0 < len(finished_before) < 24  # the kill landed mid-run
    for path in (out / "hubert").rglob("*.npy"):
        np.load(path)  # every visible .npy is complete
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"skipped {len(finished_before)}" in result.stdout
    assert uids_of(out / "hubert") == {f"s/{i:02d}" for i in range(24)}


def test_device_commands_split_shards():
    cmds = device_commands(["extract", "c", "--devices", "0,1", "--shard", "1/2", "--device", "auto"], "0,1", (1, 2))
    assert [c[-4:] for c in cmds] == [["--shard", "2/4", "--device", "cuda:0"],
                                      ["--shard", "3/4", "--device", "cuda:1"]]
    assert all("--devices" not in c for c in cmds)


def test_cli_usage_errors_exit_2(tmp_path, corpus):
    runner = CliRunner()
    cases = {"unknown extractor 'nope'; known: whisper": ["--out", str(tmp_path), "-e", "nope"],
             "--shard 3/3: need 0 <= K < N": ["--out", str(tmp_path), "-e", "whisper", "--shard", "3/3"],
             "--out: required for an audio directory": ["-e", "whisper"]}
    for expected, args in cases.items():
        result = runner.invoke(app, ["extract", str(corpus), *args])
        assert result.exit_code == 2 and expected in result.output, (args, result.output)
    result = runner.invoke(app, ["extract", str(corpus), "--out", str(tmp_path), "-e", "whisper",
                                 "--model", "hubert=x"])
    assert result.exit_code == 2 and "not requested" in result.output


def test_builtin_amphion_config_parses(tmp_path):
    from svcprep.pipeline.config import read_run_config, run_config_from_files

    config = run_config_from_files([read_run_config("amphion-svc")], model_paths={}, options={}, corpus=tmp_path,
                                   out=tmp_path / "o")
    recipe = config.recipes[0]
    assert [e.name for e in recipe.extractors] == ["whisper", "contentvec"]
    assert recipe.extractors[1].options == {"layer": 12, "proj": True} and recipe.mels


def test_codes_with_an_averaging_method_is_a_config_error(tmp_path, corpus, models):
    proc = svcprep("extract", corpus, "--out", tmp_path, "-e", "encodec_24khz",
                   "--model", f"encodec_24khz={models['encodec_24khz']}", "--set", "encodec_24khz.output=codes",
                   check_code=2)
    assert "--method nearest" in proc.stderr
    svcprep("extract", corpus, "--out", tmp_path, "-e", "encodec_24khz", "--method", "nearest", "--num-workers", "0",
            "--model", f"encodec_24khz={models['encodec_24khz']}", "--set", "encodec_24khz.output=codes",
            check_code=0)
    codes = np.load(next((tmp_path / "encodec_24khz").rglob("*.npy")))
    assert codes.dtype == np.int64 and codes.shape[1] == 13  # 6 kbps with 64-entry codebooks at 75 Hz
