"""What a red-team round broke, each with a test that fails on the code before the fix: a checkpoint that writes
files, `hops` on published configs, hostile configs, weights resolution, bad input that crashed or hung runs,
output that trained badly, and damage `verify` missed."""

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
import torch
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import SyntheticFile, write_corpus
from svcprep.errors import CheckpointError, ConfigError
from svcprep.pipeline.runner import run_pipeline
from svcprep.recipes.settings import ExtractorConfig
from tests import hostile_files
from tests.conftest import amphion_config, done_uids

FILES = tuple(SyntheticFile(f"h/{i}.wav", 0.7 + 0.2 * i, 16000, 1) for i in range(4))


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hard")
    write_corpus(root, FILES)
    return root


# -- 1. a checkpoint must never write a file ------------------------------------------------------------
@pytest.mark.parametrize("where", ["contentvec .pt", "encodec .th", "hubert dir .bin", "rmvpe.pt", "fcpe",
                                   "zip BUILD"])
def test_a_checkpoint_that_would_write_a_file_writes_nothing(tmp_path, monkeypatch, where):
    from svcprep import load_extractor
    from svcprep.pitch.registry import load_pitch_tracker

    monkeypatch.chdir(tmp_path)
    target = tmp_path / "written_by_checkpoint"
    hostile = hostile_files.legacy_patch_writer(tmp_path / "evil.pt", target)
    with pytest.raises(CheckpointError):
        if where == "contentvec .pt":
            load_extractor("contentvec", model=hostile)
        elif where == "encodec .th":
            load_extractor("encodec", model=hostile.rename(tmp_path / "evil.th"))
        elif where == "hubert dir .bin":
            from svcprep.demo import tiny_models

            model = tiny_models.save_speech_model(tmp_path / "hub", "hubert")
            (model / "model.safetensors").unlink()
            hostile.rename(model / "pytorch_model.bin")
            load_extractor("hubert", model=model)
        elif where == "rmvpe.pt":
            load_pitch_tracker("rmvpe", model=hostile)
        elif where == "fcpe":
            load_pitch_tracker("fcpe", model=hostile)
        else:
            load_extractor("contentvec", model=hostile_files.zip_build_on_function(tmp_path / "zip.pt", target))
    assert not list(tmp_path.glob("written_by_checkpoint*"))
    assert torch._utils._rebuild_tensor_v2.__name__ == "_rebuild_tensor_v2"  # no global was changed


def test_a_hostile_checkpoint_on_the_command_line_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch,
                                                                                      corpus):
    monkeypatch.chdir(tmp_path)
    hostile = hostile_files.legacy_patch_writer(tmp_path / "evil.pt", tmp_path / "written_by_checkpoint")
    out = tmp_path / "out"
    for args in (["extract", corpus, "--out", out, "-e", "contentvec", "--model", f"contentvec={hostile}"],
                 ["pitch", corpus, "--out", out, "--method", "rmvpe", "--model", hostile]):
        result = cli(*args)
        assert result.exit_code == 2 and str(hostile) in result.output, result.output  # names the file
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
        assert not out.exists() and not list(tmp_path.glob("written_by_checkpoint*"))


def test_a_bytes_storage_typename_cannot_skip_the_size_check(tmp_path):
    from svcprep.extractors.checkpoint_io import load_state_dict_file

    path = hostile_files.legacy_bytes_typename_storage(tmp_path / "big.pt")
    with pytest.raises(CheckpointError, match="storages declare"):
        load_state_dict_file(path)


# -- 2. hops answers the frame grid of published configs ----------------------------------------------------
ENCODEC_32KHZ = {"model_type": "encodec", "audio_channels": 1, "sampling_rate": 32000, "codebook_size": 2048,
                 "hidden_size": 128, "num_filters": 64, "upsampling_ratios": [8, 5, 4, 4], "target_bandwidths": [2.2],
                 "norm_type": "weight_norm", "use_causal_conv": False, "normalize": False}
MERT_330M = {"model_type": "mert_model", "architectures": ["MERTModel"], "auto_map": {
    "AutoConfig": "configuration_MERT.MERTConfig", "AutoModel": "modeling_MERT.MERTModel"},
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
    "sample_rate": 24000, "feat_extract_norm": "layer"}


def test_hops_reads_published_configs_without_output_options_or_custom_code(tmp_path):
    (tmp_path / "encodec32").mkdir()
    (tmp_path / "encodec32" / "config.json").write_text(json.dumps(ENCODEC_32KHZ))
    (tmp_path / "mert").mkdir()
    (tmp_path / "mert" / "config.json").write_text(json.dumps(MERT_330M))
    (tmp_path / "mert" / "preprocessor_config.json").write_text(json.dumps({"sampling_rate": 24000}))
    three_layer_fairseq = Path(__file__).parent / "fixtures" / "fairseq_hubert_group" / "model.pt"
    cases = [("encodec", tmp_path / "encodec32", 32000, 640), ("mert", tmp_path / "mert", 24000, 320),
             ("contentvec", three_layer_fairseq, 16000, 320)]
    assert len(cases) == 3
    for name, model, rate, hop in cases:
        result = cli("hops", "-e", name, "--model", model, "-p", "amphion-svc-24k", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert (report["source_sample_rate"], report["source_hop"]) == (rate, hop)


def test_extract_takes_the_encodec_32khz_default_bandwidth_from_its_config():
    from svcprep.extractors.encodec import resolved_bandwidth
    from svcprep.extractors.registry import spec_for

    assert resolved_bandwidth(ENCODEC_32KHZ, None) == 2.2
    assert spec_for("encodec_32khz", output="codes").dim == 4  # floor(2200 / (50 * 11)) codebooks
    with pytest.raises(ConfigError, match="encodec_32khz: bandwidth 6.0 not supported"):
        spec_for("encodec_32khz", output="codes", bandwidth=6.0)


# -- 4.5 hostile configs: bounded before anything is built -------------------------------------------------
@pytest.mark.parametrize("change", [{"num_hidden_layers": 10**9}, {"num_hidden_layers": 1e9},
                                    {"conv_stride": [0, 2, 2, 2, 2, 2, 2]}, {"conv_stride": [-5, 2, 2, 2, 2, 2, 2]},
                                    {"num_attention_heads": 0}, {"hidden_size": 32, "num_attention_heads": 3}])
def test_hostile_speech_model_configs_are_one_line_usage_errors(tmp_path, corpus, tiny_models_by_name, change):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_models_by_name["hubert"][0], model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, **change}))
    result = cli("extract", corpus, "--out", tmp_path / "out", "-e", "hubert", "--model", f"hubert={model}")
    assert result.exit_code == 2 and "config" in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change", [{"feature_size": 10**7}, {"hop_length": 0}, {"sampling_rate": 0}])
def test_hostile_whisper_configs_are_one_line_usage_errors(tmp_path, corpus, tiny_models_by_name, change):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_models_by_name["whisper"][0], model)
    config = json.loads((model / "preprocessor_config.json").read_text())
    (model / "preprocessor_config.json").write_text(json.dumps({**config, **change}))
    result = cli("hops", "-e", "whisper", "--model", model, "-p", "amphion-svc-24k")
    key, value = next(iter(change.items()))
    assert result.exit_code == 2 and f"config {key} = {value} is not" in result.output, result.output
    assert "Traceback" not in result.output


def test_a_billion_laughs_fairseq_config_is_refused_quickly(tmp_path):
    from svcprep.demo import tiny_models
    from svcprep.extractors.checkpoint_io import load_untrusted_checkpoint
    from svcprep.extractors.registry import spec_for

    path = tiny_models.save_fairseq_contentvec(tmp_path / "cv.pt")
    checkpoint = {k: v for k, v in load_untrusted_checkpoint(path).items() if k in ("cfg", "model")}
    laugh: list = ["ha"] * 10
    for _ in range(9):
        laugh = [laugh] * 10  # 10**10 strings once expanded, a few hundred bytes pickled
    checkpoint["cfg"]["model"]["laughs"] = laugh
    torch.save(checkpoint, path)
    started = time.monotonic()
    with pytest.raises(CheckpointError, match="expands past"):
        spec_for("contentvec", path)
    assert time.monotonic() - started < 30


# -- 4.3 the weights svcprep checks are the ones transformers loads -----------------------------------------------
def test_an_index_beside_a_compressed_bin_cannot_smuggle_weights(tmp_path, tiny_models_by_name):
    import shutil
    import zipfile

    from svcprep import load_extractor

    model = tmp_path / "hub"
    shutil.copytree(tiny_models_by_name["hubert"][0], model)
    state = load_extractor("hubert", model=model).model.state_dict()
    (model / "model.safetensors").unlink()
    torch.save(state, model / "shard.bin")
    (model / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {k: "shard.bin" for k in state}}))
    torch.save({k: torch.zeros_like(v) for k, v in state.items()}, tmp_path / "zeros.bin")
    with zipfile.ZipFile(tmp_path / "zeros.bin") as source, zipfile.ZipFile(model / "pytorch_model.bin", "w") as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="pytorch_model.bin.*compressed"):
        load_extractor("hubert", model=model)


# -- 4.1 non-finite values never reach a file ------------------------------------------------------------
def test_huge_amplitude_audio_fails_and_never_enters_the_statistics(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("s/ok.wav", 0.8, 24000, 1),))
    sf.write(corpus / "s" / "huge.wav", np.full(24000, 3e29, np.float32), 24000, subtype="FLOAT")
    summary = run_pipeline(amphion_config(corpus, tmp_path / "o", mels=True, energy=True, stats=True,
                                          pitch=None, num_workers=0))
    assert summary.failed == 1 and done_uids(tmp_path / "o", "mels") == {"s/ok"}
    low, high = (np.load(tmp_path / "o" / "mel_min_max_stats" / f"mel_{w}.npy") for w in ("min", "max"))
    assert np.isfinite(low).all() and np.isfinite(high).all()



@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_sample_in_a_float_file_fails_at_decode(tmp_path, value):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("s/ok.wav", 0.8, 24000, 1),))
    samples = np.zeros((24000, 2), np.float32)
    samples[12345, 1] = value  # one sample, in the second channel
    sf.write(corpus / "s" / "bad.wav", samples, 24000, subtype="FLOAT")
    summary = run_pipeline(amphion_config(corpus, tmp_path / "o", mels=True, pitch=None, num_workers=0))
    assert summary.failed == 1 and done_uids(tmp_path / "o", "mels") == {"s/ok"}
    failure = json.loads((tmp_path / "o" / "_failures.jsonl").read_text().splitlines()[-1])
    assert failure["uid"] == "s/bad" and failure["stage"] == "decode" and "NaN or infinite" in failure["reason"]

def test_a_nan_from_a_model_fails_that_clip_and_writes_nothing(tmp_path, corpus, tiny_models_by_name, monkeypatch):
    from svcprep.extractors.base import BatchExtractor

    real = BatchExtractor.extract

    def nan_for_the_longest(self, waves):
        outputs = real(self, waves)
        return [np.full_like(o, np.nan) if len(w) == max(map(len, waves)) and len(w) > 20000 else o
                for o, w in zip(outputs, waves, strict=True)]

    monkeypatch.setattr(BatchExtractor, "extract", nan_for_the_longest)
    hubert = (ExtractorConfig("hubert", str(tiny_models_by_name["hubert"][0])),)
    summary = run_pipeline(amphion_config(corpus, tmp_path / "o", mels=False, num_workers=0, extractors=hubert))
    assert summary.failed == 1 and len(done_uids(tmp_path / "o", "hubert")) == 3
    failure = json.loads((tmp_path / "o" / "_failures.jsonl").read_text().splitlines()[0])
    assert "NaN" in failure["reason"] and not (tmp_path / "o" / "hubert" / f"{failure['uid']}.npy").exists()


# -- 4.2 a settings change by another shard ---------------------------------------------------------------------
def test_files_of_older_settings_left_by_another_shard_are_flagged_by_verify(tmp_path, corpus, tiny_models_by_name):
    hubert = (ExtractorConfig("hubert", str(tiny_models_by_name["hubert"][0])),)
    out = tmp_path / "o"
    run_pipeline(amphion_config(corpus, out, mels=True, extractors=hubert, num_workers=0))
    run_pipeline(amphion_config(corpus, out, mels=True, extractors=hubert, num_workers=0, method="nearest",
                                shard=(1, 3), overwrite=True))  # redoes h/1 alone
    result = cli("verify", out, "--json")
    report = json.loads(result.output)
    stale = [p for o in report["outputs"] if o["output"] == "hubert" for p in o["problems"]]
    assert result.exit_code == 1 and stale and all("not finished under the current settings" in p["problem"]
                                                   for p in stale)


# -- 4.6, 4.13, 4.16: odd corpus entries are reported, never crash or hang the run ---------------------------------
def test_a_file_name_that_is_not_utf8_is_a_failure_and_the_run_goes_on(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("ok.wav", 0.5, 24000, 1),))
    os.link(corpus / "ok.wav", os.fsencode(corpus) + b"/bad\xff.wav")
    result = cli("mel", corpus, "--out", tmp_path / "o", "--num-workers", "0")
    assert result.exit_code == 1 and "done 1" in result.output, result.output
    record = json.loads((tmp_path / "o" / "_failures.jsonl").read_text().splitlines()[0])
    assert "UTF-8" in record["reason"] and "\\xff" in record["path"]


def test_a_fifo_in_a_manifest_fails_fast(tmp_path, corpus):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"uid": "pipe", "path": str(fifo)}) + "\n"
                        + json.dumps({"uid": "ok", "path": str(corpus / "h" / "0.wav")}) + "\n")
    proc = subprocess.run([sys.executable, "-m", "svcprep", "mel", str(manifest), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "done 1" in proc.stdout, proc.stdout + proc.stderr
    assert "regular file" in (tmp_path / "o" / "_failures.jsonl").read_text()


def test_an_unreadable_subdirectory_is_reported(tmp_path, monkeypatch):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("a/ok.wav", 0.5, 24000, 1), SyntheticFile("b/hidden.wav", 0.5, 24000, 1)))
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("/b"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = cli("mel", corpus, "--out", tmp_path / "o", "--num-workers", "0")
    assert result.exit_code == 1, result.output
    assert "unreadable directory" in (tmp_path / "o" / "_failures.jsonl").read_text()


def test_absurd_worker_counts_are_usage_errors(tmp_path, corpus):
    result = cli("mel", corpus, "--out", tmp_path / "o", "--num-workers", "100000")
    assert result.exit_code == 2 and "--num-workers" in result.output and "64" in result.output, result.output
    assert not (tmp_path / "o").exists()


# -- 4.7, 4.8, 4.9, 4.11, 4.12: bookkeeping under stress -------------------------------------------------------
def test_an_output_dir_on_another_filesystem_still_gets_atomic_writes(tmp_path, corpus):
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem to link an output dir to")
    target = Path(os.environ.get("TMPDIR_SHM", other)) / f"svcprep-test-{os.getpid()}"
    target.mkdir()
    try:
        out = tmp_path / "o"
        out.mkdir()
        (out / "mels").symlink_to(target)
        result = cli("mel", corpus, "--out", out, "--num-workers", "0")
        assert result.exit_code == 0 and "done 4" in result.output, result.output
        assert len(list(target.rglob("*.npy"))) == 4 and not list(target.rglob("*.tmp"))
    finally:
        import shutil

        shutil.rmtree(target, ignore_errors=True)


def _append_failures(path: str, who: int, count: int) -> None:
    from svcprep.store.bookkeeping import FailureLog

    log = FailureLog(Path(path), Path(path).with_suffix(".lock"))
    for i in range(count):
        log.append({"uid": f"{who}-{i}", "stage": "decode", "reason": "x"})


def test_concurrent_shards_lose_no_failure_record(tmp_path):
    import multiprocessing

    from svcprep.store.bookkeeping import FailureLog

    path = tmp_path / "_failures.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_append_failures, args=(str(path), w, 150)) for w in range(4)]
    for p in writers:
        p.start()
    log = FailureLog(path, path.with_suffix(".lock"))
    while any(p.is_alive() for p in writers):
        log.compact(lambda r: False)  # another shard compacting at the end of its run
    for p in writers:
        p.join()
    assert len({r["uid"] for r in log.records()}) == 4 * 150


def test_a_done_entry_whose_file_was_deleted_is_redone(tmp_path, corpus):
    out = tmp_path / "o"
    assert cli("mel", corpus, "--out", out, "--num-workers", "0").exit_code == 0
    (out / "mels" / "h" / "2.npy").unlink()
    result = cli("mel", corpus, "--out", out, "--num-workers", "0")
    assert "done 1, skipped 3" in result.output and (out / "mels" / "h" / "2.npy").is_file()


def test_a_model_that_fails_to_load_records_nothing(tmp_path, corpus, tiny_models_by_name):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_models_by_name["hubert"][0], model)
    (model / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    out = tmp_path / "o"
    result = cli("extract", corpus, "--out", out, "-e", "hubert", "--model", f"hubert={model}")
    assert result.exit_code == 2 and "safetensors" in result.output and "Traceback" not in result.output
    assert not list(out.rglob("meta.json"))
    good = cli("extract", corpus, "--out", out, "-e", "hubert", "--model",
               f"hubert={tiny_models_by_name['hubert'][0]}", "--method", "nearest")
    assert good.exit_code == 0, good.output  # not refused as "other settings"


def test_mel_after_a_failed_extract_keeps_the_extract_failure(tmp_path, tiny_models_by_name):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("ok.wav", 1.0, 16000, 1), SyntheticFile("short.wav", 0.02, 16000, 1)))
    out = tmp_path / "o"
    cli("extract", corpus, "--out", out, "-e", "hubert", "--model", f"hubert={tiny_models_by_name['hubert'][0]}")
    cli("mel", corpus, "--out", out, "--num-workers", "0")
    records = [json.loads(line) for line in (out / "_failures.jsonl").read_text().splitlines()]
    assert any(r["uid"] == "short" and r.get("output") == "hubert" for r in records)


# -- 4.10 a decode worker killed mid-run ----------------------------------------------------------------------
def test_a_killed_decode_worker_costs_no_file(tmp_path):
    from tests.conftest import process_ids

    corpus = tmp_path / "c"
    write_corpus(corpus, tuple(SyntheticFile(f"{i:02d}.wav", 2.0, 44100, 1) for i in range(30)))
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "svcprep", "mel", str(corpus), "--out", str(out),
                             "--num-workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    killed = None
    while time.monotonic() < deadline and proc.poll() is None and killed is None:
        workers = process_ids("ppid", proc.pid)
        if workers and done_uids(out, "mels") if (out / ".svcprep" / "mels").is_dir() else False:
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
        time.sleep(0.02)
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()  # a hung run fails the test, and leaves no process behind
        raise
    assert killed, "no worker found mid-run"
    failures = (out / "_failures.jsonl").read_text(encoding="utf-8") if (out / "_failures.jsonl").exists() else ""
    assert proc.returncode == 0 and "done 30" in stdout, stdout + stderr + failures
    assert len(list((out / "mels").glob("*.npy"))) == 30


# -- 4.14 one line, never a traceback ----------------------------------------------------------------------------
def test_damaged_records_are_one_line_in_run_and_problems_in_verify(tmp_path, corpus):
    out = tmp_path / "o"
    assert cli("mel", corpus, "--out", out, "--num-workers", "0").exit_code == 0
    for garbage in ("", "{{{", "[]"):
        (out / ".svcprep" / "mels" / "meta.json").write_text(garbage)
        result = cli("mel", corpus, "--out", out, "--num-workers", "0")
        assert result.exit_code in (1, 2) and "meta.json" in result.output and "Traceback" not in result.output
        verified = cli("verify", out)
        assert verified.exit_code == 1 and "meta.json" in verified.output


@pytest.mark.parametrize("bad", ["hop_length: 0", "hop_length: '256'", "n_mels: 0"])
def test_broken_presets_are_usage_errors(tmp_path, corpus, bad):
    preset = tmp_path / "p.yaml"
    values = {"sample_rate": "24000", "n_fft": "1024", "hop_length": "256", "win_length": "1024", "n_mels": "100",
              "fmin": "0", "fmax": "12000"}
    key, value = bad.split(": ")
    values[key] = value
    preset.write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
    result = cli("mel", corpus, "--out", tmp_path / "o", "-p", preset)
    assert result.exit_code == 2 and key in result.output and not (tmp_path / "o").exists()


def test_sigterm_stops_with_a_message_exit_143_and_no_temp_file(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(corpus, tuple(SyntheticFile(f"{i:02d}.wav", 3.0, 44100, 1) for i in range(40)))
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "svcprep", "mel", str(corpus), "--out", str(out),
                             "--num-workers", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob("mels/*.npy")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in stderr and "rerun" in stderr, stderr
    assert not list(out.rglob("*.tmp"))


def test_a_full_disk_while_recording_a_failure_is_one_line(tmp_path, monkeypatch):
    import errno

    from svcprep.errors import StorageError
    from svcprep.store.bookkeeping import FailureLog

    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("ok.wav", 0.5, 24000, 1),))
    (corpus / "bad.wav").write_bytes(b"RIFF broken")

    def full(self, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FailureLog, "append", full)
    with pytest.raises(StorageError, match="cannot record the failure of bad"):
        run_pipeline(amphion_config(corpus, tmp_path / "o", mels=True, num_workers=0))


# -- 4.15 verify finds damaged content ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory, corpus, tiny_models_by_name):
    out = tmp_path_factory.mktemp("finished") / "o"
    config = {"corpus": str(corpus), "out": str(out), "mels": True, "pitch": {"method": "dio"}, "stats": True,
              "extractors": [{"name": "hubert", "model": str(tiny_models_by_name["hubert"][0])}]}
    (out.parent / "run.yaml").write_text(json.dumps(config))
    assert cli("run", "--config", out.parent / "run.yaml").exit_code == 0
    return out


def _damaged(finished, tmp_path, damage):
    import shutil

    out = tmp_path / "o"
    shutil.copytree(finished, out)
    damage(out)
    result = cli("verify", out, "--no-hashes", "--json")
    hashed = cli("verify", out, "--json")
    return result.exit_code, json.loads(result.output), hashed.exit_code


def _problems(report):
    return " | ".join(f"{o['output']}:{p['uid']}: {p['problem']}" for o in report["outputs"] for p in o["problems"])


DAMAGE = {
    "all-zero feature": (lambda out: np.save(out / "hubert" / "h/1.npy", np.zeros_like(np.load(
        out / "hubert" / "h/1.npy"))), "every value is zero"),
    "float64 mel": (lambda out: np.save(out / "mels" / "h/2.npy", np.load(out / "mels" / "h/2.npy").astype(
        np.float64)), "dtype float64"),
    "1e9 Hz pitch": (lambda out: np.save(out / "pitches" / "h/0.npy", np.where(np.load(
        out / "pitches" / "h/0.npy") > 0, 1e9, 0).astype(np.float32)), "outside"),
    "file with no mel": (lambda out: (out / "mels" / "h/3.npy").unlink(), "missing"),
    "deleted meta.json": (lambda out: (out / ".svcprep" / "hubert" / "meta.json").unlink(), "record"),
    "garbage done-list": (lambda out: next((out / ".svcprep" / "mels" / "done").rglob("*.txt")).open("a").write(
        "garbage line\n"), "not svcprep done entries"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_verify_finds_damaged_content(finished, tmp_path, kind):
    damage, expected = DAMAGE[kind]
    code, report, hashed_code = _damaged(finished, tmp_path, damage)
    assert code == 1 and hashed_code == 1 and expected in _problems(report), _problems(report)


def test_verify_finds_swapped_files_and_tampered_statistics(finished, tmp_path):
    def damage(out):
        a, b = out / "hubert" / "h/0.npy", out / "hubert" / "h/1.npy"
        np.save(a, np.load(b)[: len(np.load(a))]) if len(np.load(b)) >= len(np.load(a)) else None
        stats = json.loads((out / "pitches" / "statistics.json").read_text())
        next(iter(stats.values()))["voiced_positions"]["median"] += 100.0
        (out / "pitches" / "statistics.json").write_text(json.dumps(stats))

    import shutil

    out = tmp_path / "o"
    shutil.copytree(finished, out)
    damage(out)
    result = cli("verify", out, "--json")
    text = _problems(json.loads(result.output))
    assert result.exit_code == 1 and "hubert:h/0: hubert changed since it was written" in text
    assert "statistics.json: changed since svcprep wrote it" in text


def test_verify_honours_the_recorded_tolerance(tmp_path, corpus, tiny_models_by_name):
    model = f"hubert={tiny_models_by_name['hubert'][0]}"
    for tolerance, clean in (("8", True), ("4", False)):
        out = tmp_path / f"t{tolerance}"
        assert cli("mel", corpus, "--out", out, "--num-workers", "0").exit_code == 0
        assert cli("extract", corpus, "--out", out, "-e", "hubert", "--model", model, "--keep-native",
                   "--tolerance", tolerance, "--num-workers", "0").exit_code == 0
        native = out / "hubert_native" / "h/3.npy"
        np.save(native, np.load(native)[:-2])  # 2 native frames short: ~4 mel frames
        code = cli("verify", out, "--no-hashes").exit_code
        assert (code == 0) == clean


def test_plot_help_names_the_extra_and_f0_has_its_own_axis_in_hz(finished):
    from svcprep.plot import draw_utterance

    assert "svcprep[plot]" in cli("plot", "--help").output
    figure = draw_utterance(finished, "h/1")
    f0_axes = [a for a in figure.axes if a.get_ylabel() == "F0 (Hz)"]
    assert f0_axes and f0_axes[0].get_yscale() == "log"
