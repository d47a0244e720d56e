"""Hostile checkpoints in every torch format, a full disk, overwrite across shards, uids that break lines,
usage errors caught before any model loads, and the output details a careful user checks."""

import errno
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from svcprep.audio.presets import load_preset
from svcprep.cli.main import app
from svcprep.demo.synthetic import SyntheticFile, write_corpus
from svcprep.errors import CheckpointError, ConfigError, StorageError
from svcprep.extractors.checkpoint_io import load_state_dict_file, load_untrusted_checkpoint
from svcprep.pipeline.runner import run_pipeline
from svcprep.recipes.settings import ExtractorConfig
from tests.conftest import amphion_config, done_uids, process_ids

MARKER = "PWNED_BY_CHECKPOINT"


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _legacy_with_hostile_magic(path: Path) -> Path:
    """A legacy (pre-zip) torch stream whose first pickle, the magic number, carries a payload."""
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(2)}, "cfg": {"model": {}}}, buffer, _use_new_zipfile_serialization=False)
    original = buffer.getvalue()
    stream = io.BytesIO(original)
    pickle.load(stream)  # skip the genuine magic number
    path.write_bytes(pickle.dumps(_Exploit(), protocol=2) + original[stream.tell():])
    return path


def _zip_with_compressed_entry(path: Path) -> Path:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(4)}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("data.pkl"):
                out.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
            else:
                out.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
        out.writestr("archive/data/bomb", b"\0" * (64 << 20), compress_type=zipfile.ZIP_DEFLATED)
    return path


def _torchscript(path: Path) -> Path:
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    return path


def _tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("pickle")
        data = pickle.dumps(_Exploit(), protocol=2)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def _legacy_huge_storage(path: Path) -> Path:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(4)}, buffer, _use_new_zipfile_serialization=False)
    # The storage's element count (4) is pickled as BININT1 0x04 just before the view metadata: claim 2**30.
    data = buffer.getvalue()
    index = data.index(b"K\x04N")  # BININT1 4, NONE (no view metadata)
    path.write_bytes(data[:index] + b"J" + (2**30).to_bytes(4, "little") + data[index + 2:])
    return path


def _zip_hostile_data(path: Path) -> Path:
    torch.save({"model": {"w": torch.zeros(2)}, "payload": _Exploit()}, path)
    return path


HOSTILE = {
    "legacy magic-number payload": _legacy_with_hostile_magic,
    "zip data.pkl payload": _zip_hostile_data,
    "zip compressed entries (bomb)": _zip_with_compressed_entry,
    "TorchScript archive": _torchscript,
    "tar archive": _tar,
    "legacy storage larger than the file": _legacy_huge_storage,
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_checkpoints_run_no_code_and_are_refused_as_state_dicts(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    path = HOSTILE[kind](tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="model.pt"):
        load_state_dict_file(path)
    try:
        loaded = load_untrusted_checkpoint(path)
    except CheckpointError:
        loaded = None
    assert not (tmp_path / MARKER).exists()
    if kind == "zip data.pkl payload":
        assert type(loaded["payload"]).__name__ == "system"  # an inert placeholder


@pytest.mark.parametrize("where", ["contentvec .pt", "encodec .th", "hubert dir .bin"])
def test_every_loader_refuses_hostile_pickles(tmp_path, monkeypatch, where):
    from svcprep import load_extractor

    monkeypatch.chdir(tmp_path)
    if where == "contentvec .pt":
        name, model = "contentvec", _legacy_with_hostile_magic(tmp_path / "cv.pt")
    elif where == "encodec .th":
        name, model = "encodec", _zip_hostile_data(tmp_path / "enc.th")
    else:
        from svcprep.demo import tiny_models

        model = tiny_models.save_speech_model(tmp_path / "hub", "hubert")
        (model / "model.safetensors").unlink()
        torch.save({"w": torch.zeros(1), "x": _Exploit()}, model / "pytorch_model.bin")
        name = "hubert"
    with pytest.raises(CheckpointError):
        load_extractor(name, model=model)
    assert not (tmp_path / MARKER).exists()


# -- the pipeline: full disk, overwrite across shards, uids ------------------------------------------
@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    write_corpus(root, tuple(SyntheticFile(f"s{i}.wav", 0.6 + 0.1 * i, 24000, 1) for i in range(6)))
    return root


def _config(corpus, out, **kw):
    return amphion_config(corpus, out, **{"mels": True, "num_workers": 0, **kw})


def test_full_disk_stops_the_run_with_an_error_never_a_false_done(small_corpus, tmp_path, monkeypatch):
    from svcprep.store.bookkeeping import FailureLog
    from svcprep.store.files import FileSink

    calls = {"n": 0}
    real_write = FileSink.write

    def write_then_fill(self, file, uid, value):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, file, uid, value)

    def no_space_append(self, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSink, "write", write_then_fill)
    monkeypatch.setattr(FailureLog, "append", no_space_append)  # the failure log cannot record either
    out = tmp_path / "out"
    result: dict = {}

    def target():
        try:
            run_pipeline(_config(small_corpus, out))
        except BaseException as exc:  # noqa: BLE001
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the run hung after the writer failed"
    assert isinstance(result.get("error"), StorageError) and "No space left" in str(result["error"])
    done = done_uids(out, "mels")
    on_disk = {p.stem for p in (out / "mels").glob("*.npy")}
    assert done <= on_disk and len(on_disk) == 1


def test_overwrite_on_every_shard_redoes_every_file(small_corpus, tmp_path, tiny_models_by_name):
    model = str(tiny_models_by_name["whisper"][0])
    extractors = (ExtractorConfig("whisper", model),)
    out, clean = tmp_path / "out", tmp_path / "clean"
    run_pipeline(_config(small_corpus, out, extractors=extractors, method="area"))
    for k in range(2):
        run_pipeline(_config(small_corpus, out, extractors=extractors, method="nearest", shard=(k, 2),
                             overwrite=True))
    run_pipeline(_config(small_corpus, clean, extractors=extractors, method="nearest"))
    for path in sorted((clean / "whisper").glob("*.npy")):
        np.testing.assert_array_equal(np.load(out / "whisper" / path.name), np.load(path))
    # A shard that reruns without --overwrite after another shard changed the settings redoes its files too.
    run_pipeline(_config(small_corpus, out, extractors=extractors, method="area", shard=(0, 2), overwrite=True))
    summary = run_pipeline(_config(small_corpus, out, extractors=extractors, method="area", shard=(1, 2)))
    assert summary.done > 0 and summary.skipped == 0


@pytest.mark.parametrize("bad", ["a\nb", "a\u2028b", "a\x85b", "a\rb"])
def test_uids_with_line_separators_are_rejected_from_manifests(tmp_path, small_corpus, bad):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"uid": bad, "path": str(small_corpus / "s0.wav")}) + "\n")
    with pytest.raises(ConfigError, match="line break"):
        run_pipeline(_config(manifest, tmp_path / "out"))


def test_file_names_with_line_separators_resume(tmp_path):
    corpus = tmp_path / "c"
    names = ["plain", "with\u2028sep", "with\x85nel", "two\u2029para"]
    write_corpus(corpus, tuple(SyntheticFile(f"{n}.wav", 0.5, 24000, 1) for n in names[:1]))
    for name in names[1:]:
        os.link(corpus / "plain.wav", corpus / f"{name}.wav")
    with pytest.raises(ConfigError, match="line break"):  # a directory uid is a file name: refused the same way
        run_pipeline(_config(corpus, tmp_path / "out"))


# -- usage errors: one line, exit 2, before any model loads or any file is written ----------------------
def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_usage_errors_exit_2_and_write_nothing(tmp_path, small_corpus, tiny_models_by_name):
    out = tmp_path / "out"
    hubert = f"hubert={tiny_models_by_name['hubert'][0]}"
    cases = {
        "--method": ["extract", small_corpus, "--out", out, "-e", "hubert", "--model", hubert, "--method", "bogus"],
        "--trust-remote-code": ["extract", small_corpus, "--out", out, "-e", "whisper", "--trust-remote-code"],
        "does not exist": ["extract", small_corpus, "--out", out, "-e", "hubert", "--model", "hubert=/nonexistent"],
        "did you mean 'hubert'": ["extract", small_corpus, "--out", out, "-e", "huberr"],
        "--dtype": ["extract", small_corpus, "--out", out, "-e", "hubert", "--model", hubert, "--dtype", "fp8"],
        "unknown option": ["extract", small_corpus, "--out", out, "-e", "hubert", "--set", "hubert.layr=3"],
    }
    if not torch.cuda.is_available():
        cases["CUDA"] = ["extract", small_corpus, "--out", out, "-e", "hubert", "--model", hubert, "--device", "cuda"]
        cases["--devices"] = ["extract", small_corpus, "--out", out, "-e", "hubert", "--model", hubert,
                              "--devices", "0,1"]
    assert len(cases) >= 5
    for expected, args in cases.items():
        result = _cli(*args)
        assert result.exit_code == 2, (expected, result.output)
        assert expected in result.output and "Traceback" not in result.output, (expected, result.output)
        assert not out.exists(), expected


def test_config_file_and_corpus_errors_exit_2(tmp_path, small_corpus):
    config = tmp_path / "run.yaml"
    config.write_text(f"corpus: {small_corpus}\nout: {tmp_path / 'o'}\nmels: true\nbatch_seconds: ten\n")
    result = _cli("run", "--config", config)
    assert result.exit_code == 2 and "batch_seconds" in result.output
    dataset = tmp_path / "ds"
    dataset.mkdir()
    for bad_path in (None, 3):
        (dataset / "train.json").write_text(json.dumps([{"Uid": "a", "Path": bad_path}]))
        result = _cli("mel", dataset)
        assert result.exit_code == 2 and "audio path" in result.output
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = _cli("mel", small_corpus, "--out", blocker / "out")
    assert result.exit_code == 2 and "cannot write" in result.output


def test_csv_manifest_with_a_bom_is_read(tmp_path, small_corpus):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("\ufeffuid,path\nx,".encode("utf-8") + str(small_corpus / "s0.wav").encode() + b"\n")
    result = _cli("mel", manifest, "--out", tmp_path / "o", "--num-workers", "0")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "mels" / "x.npy").is_file()


def test_trust_remote_code_reaches_only_mert():
    from svcprep.cli.pipeline_cmds import extractor_configs

    configs = extractor_configs(["whisper", "mert"], [], [], trust_remote_code=True)
    assert dict(configs[0].options) == {} and configs[1].options == {"trust_remote_code": True}


def test_default_option_given_explicitly_is_not_other_settings(tmp_path, small_corpus, tiny_models_by_name):
    hubert = f"hubert={tiny_models_by_name['hubert'][0]}"
    args = ["extract", small_corpus, "--out", tmp_path / "o", "-e", "hubert", "--model", hubert, "--num-workers", "0"]
    assert _cli(*args).exit_code == 0
    result = _cli(*args, "--set", "hubert.layer=final")
    assert result.exit_code == 0 and "skipped 6" in result.output, result.output


def test_features_refuse_mels_of_another_preset(tmp_path, small_corpus, tiny_models_by_name):
    out = tmp_path / "o"
    assert _cli("mel", small_corpus, "--out", out, "-p", "nsf-hifigan-44k", "--num-workers", "0").exit_code == 0
    result = _cli("extract", small_corpus, "--out", out, "-e", "hubert",
                  "--model", f"hubert={tiny_models_by_name['hubert'][0]}")
    assert result.exit_code == 2 and "nsf-hifigan-44k" in result.output and "--preset" in result.output


# -- output details ---------------------------------------------------------------------------------
def test_outputs_respect_the_umask_and_dirs_hold_only_uid_files(tmp_path, small_corpus):
    old = os.umask(0o027)
    try:
        import importlib

        import svcprep.fileio as fileio

        importlib.reload(fileio)
        mode = fileio.FILE_MODE
    finally:
        os.umask(old)
        importlib.reload(fileio)
    assert mode == 0o640
    run_pipeline(_config(small_corpus, tmp_path / "o"))
    files = list((tmp_path / "o" / "mels").iterdir())
    assert len(files) == 6 and all(p.suffix == ".npy" and not p.name.startswith((".", "_")) for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~old for p in files)


def test_keep_native_on_a_finished_out_writes_the_native_files(tmp_path, small_corpus, tiny_models_by_name):
    extractors = (ExtractorConfig("hubert", str(tiny_models_by_name["hubert"][0])),)
    out = tmp_path / "o"
    run_pipeline(_config(small_corpus, out, extractors=extractors))
    summary = run_pipeline(_config(small_corpus, out, extractors=extractors, keep_native=True))
    assert summary.done == 6 and len(list((out / "hubert_native").glob("*.npy"))) == 6


def test_failures_are_kept_once_per_uid_and_stage_and_dropped_when_fixed(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("good.wav", 0.5, 24000, 1),))
    (corpus / "bad.wav").write_bytes(b"RIFF nope")
    (corpus / "dangling.wav").symlink_to(tmp_path / "missing.wav")
    out = tmp_path / "o"
    for _ in range(3):
        summary = run_pipeline(_config(corpus, out))
        assert summary.failed == 2
    records = [json.loads(line) for line in (out / "_failures.jsonl").read_text().splitlines()]
    assert sorted(r["uid"] for r in records) == ["bad", "dangling"]
    (corpus / "bad.wav").unlink()
    (corpus / "dangling.wav").unlink()
    (corpus / "dangling.wav").symlink_to(corpus / "good.wav")
    run_pipeline(_config(corpus, out))
    assert not (out / "_failures.jsonl").exists()


def test_long_mels_in_chunks_equal_one_pass():
    from svcprep.audio.mel import MelExtractor

    mel = MelExtractor(load_preset("amphion-svc-24k"))
    wav = (0.1 * np.random.default_rng(0).standard_normal(24000 * 7 + 123)).astype(np.float32)
    np.testing.assert_array_equal(mel(wav, chunk_frames=10**9), mel(wav, chunk_frames=97))


def _children(pid: int) -> set[int]:
    return set(process_ids("ppid", pid))


def test_ctrl_c_and_kill_9_leave_no_workers(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(corpus, (SyntheticFile("000.wav", 4.0, 44100, 1),))
    for i in range(1, 400):  # copies: 27 minutes of audio, so that the signal lands mid-run on a fast machine too
        (corpus / f"{i:03d}.wav").write_bytes((corpus / "000.wav").read_bytes())
    args = [sys.executable, "-m", "svcprep", "mel", str(corpus), "--out", str(tmp_path / "o"), "--num-workers", "2"]
    for sig in (signal.SIGINT, signal.SIGKILL):
        # Ctrl-C as a terminal delivers it: SIGINT handled by default even where this suite runs as a background
        # job (whose shell ignores SIGINT, which Python would then keep ignoring)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            workers = _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "decode workers never started"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "rerun the same command to resume" in stderr, stderr
        time.sleep(1.0)
        alive = {pid for pid in workers if Path(f"/proc/{pid}").exists()
                 and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}
        assert not alive, f"workers outlived the run after signal {sig}: {alive}"
