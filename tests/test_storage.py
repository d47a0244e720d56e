"""The store's file operations and bookkeeping: atomic writes with their hashes, records that refuse damage,
done-lists that notice a settings change, the locked failure log, progress lines."""

import os
import time

import numpy as np
import pytest

from svcprep.errors import OutputConflictError
from svcprep.fileio import atomic_write, file_sha256, read_npy_header, remove_stale_temp_files
from svcprep.ids import EntryId
from svcprep.outputs.records import DoneEntry, FileRecord, OutputRecord, RecordError
from svcprep.pipeline.progress import Progress
from svcprep.store.bookkeeping import Bookkeeping, FailureLog, SettingsChangedError
from svcprep.store.codecs import CODECS
from svcprep.store.files import FileSink

NPY = CODECS["npy"]
MEL = FileRecord("mels", "npy", "float32", "(n_mels, T)")


def record(**settings) -> OutputRecord:
    return OutputRecord("mels", "mel", (MEL,), settings)


def test_atomic_write_leaves_no_temp_returns_the_hash_and_header_shape(tmp_path):
    path = tmp_path / "a" / "b.npy"
    digest = atomic_write(path, lambda f: NPY.encode(np.zeros((3, 7), np.float16), f))
    assert read_npy_header(path) == ((3, 7), np.dtype(np.float16))
    assert [p.name for p in path.parent.iterdir()] == ["b.npy"] and digest == file_sha256(path)


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    path = tmp_path / "x.npy"
    atomic_write(path, lambda f: NPY.encode(np.ones(3), f))
    with pytest.raises(ValueError):
        atomic_write(path, lambda f: NPY.encode(np.array([object()], dtype=object), f))  # pickling refused mid-write
    assert np.array_equal(np.load(path), np.ones(3)) and len(list(tmp_path.iterdir())) == 1


def test_stale_temp_files_are_removed_recent_ones_kept(tmp_path):
    old, new = tmp_path / ".u.npy.abc.tmp", tmp_path / ".v.npy.def.tmp"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temp_files(tmp_path) == 1 and new.exists() and not old.exists()


def test_failure_log_ignores_a_cut_last_line_and_keeps_the_latest_reason(tmp_path):
    log = FailureLog(tmp_path / "f.jsonl")
    log.append({"uid": "a", "stage": "decode", "reason": "old"})
    log.append({"uid": "a", "stage": "decode", "reason": "new"})
    log.append({"uid": "b", "stage": "decode", "reason": "x"})
    with open(log.path, "a") as f:
        f.write('{"uid": "c", "rea')
    assert log.records() == [{"uid": "a", "stage": "decode", "reason": "new"}, {"uid": "b", "stage": "decode",
                                                                                "reason": "x"}]
    log.compact(lambda r: r["uid"] == "b")
    assert log.path.read_text().splitlines() == ['{"uid": "a", "stage": "decode", "reason": "new"}']


def test_the_sink_writes_through_the_naming_and_done_entries_carry_the_file_hash(tmp_path):
    sink, bookkeeping, uid = FileSink(tmp_path), Bookkeeping(tmp_path), EntryId("s/x")
    digest = sink.write(MEL, uid, np.ones((2, 3), np.float32))
    assert (tmp_path / "mels" / "s" / "x.npy").is_file() and sink.uids(MEL) == {uid}
    assert sink.header(MEL, uid) == ((2, 3), "float32") and sink.sha256(MEL, uid) == digest
    rec = record(a=1)
    bookkeeping.commit_output(rec, bookkeeping.check_output(rec, overwrite=False))
    done = bookkeeping.done_list(rec, "shard-0-of-1")
    done.append(DoneEntry("s/x", {"mels": digest}))
    assert bookkeeping.done_list(rec, "other").load()["s/x"].sha256 == {"mels": digest}
    with pytest.raises(Exception, match="outside"):
        sink.write(MEL, EntryId("../escape"), np.ones(1, np.float32))
    with pytest.raises(Exception, match="outside"):
        sink.write_text("../escape.txt", "x")
    assert not (tmp_path.parent / "escape.npy").exists() and not (tmp_path.parent / "escape.txt").exists()


def test_other_settings_are_refused_and_a_damaged_record_is_one_clear_error(tmp_path):
    bookkeeping = Bookkeeping(tmp_path)
    bookkeeping.commit_output(record(a=1), None)
    with pytest.raises(OutputConflictError, match="--overwrite"):
        bookkeeping.check_output(record(a=2), overwrite=False)
    for damage in ("", "{not json", "[1, 2]", '{"output": "mels", "kind": 3, "files": []}'):
        bookkeeping.record_path("mels").write_text(damage)
        with pytest.raises(RecordError, match="meta.json.*--overwrite"):
            bookkeeping.check_output(record(a=1), overwrite=False)
    assert bookkeeping.check_output(record(a=1), overwrite=True) is None  # --overwrite replaces it


def test_a_done_list_stops_when_another_process_records_other_settings(tmp_path):
    bookkeeping = Bookkeeping(tmp_path)
    ours = record(a=1)
    bookkeeping.commit_output(ours, None)
    done = bookkeeping.done_list(ours, "shard-0-of-2")
    done.append(DoneEntry("u1", {}))
    bookkeeping.commit_output(record(a=2), ours)  # another shard ran with --overwrite and other settings
    with pytest.raises(SettingsChangedError, match="other settings"):
        done.append(DoneEntry("u2", {}))
    assert set(bookkeeping.done_list(ours, "x").load()) == {"u1"}


def test_progress_prints_plain_lines_when_not_a_tty(capsys):
    progress = Progress(total_seconds=10.0, interval_seconds=0.0)
    progress.update(5.0)
    progress.close()
    assert "progress: 5/10 s of audio" in capsys.readouterr().err


@pytest.mark.parametrize("codec, samples", [
    ("wav_float32", np.sin(np.arange(4000) / 7.0).astype(np.float32) * 0.9),
    ("wav_int16", (np.sin(np.arange(4000) / 7.0) * 30000).astype(np.int16)),
    ("wav_float32", np.stack([np.linspace(-1, 1, 999), np.linspace(1, -1, 999)], axis=1).astype(np.float32)),
])
def test_wavs_are_the_same_bytes_every_time_and_read_back_exactly_by_other_readers(tmp_path, codec, samples):
    import io

    import scipy.io.wavfile
    import soundfile as sf

    from svcprep.outputs.records import Wav

    first, second = io.BytesIO(), io.BytesIO()
    CODECS[codec].encode(Wav(samples, 44100), first)
    time.sleep(1.1)  # a time stamp in the file (libsndfile's PEAK chunk) would differ now
    CODECS[codec].encode(Wav(samples, 44100), second)
    assert first.getvalue() == second.getvalue()
    path = tmp_path / "x.wav"
    path.write_bytes(first.getvalue())
    rate, by_scipy = scipy.io.wavfile.read(path)
    by_soundfile, rate_sf = sf.read(path, dtype=samples.dtype.name)
    assert rate == rate_sf == 44100
    np.testing.assert_array_equal(by_scipy, samples)
    np.testing.assert_array_equal(by_soundfile, samples)
    assert CODECS[codec].header(path)[0] == samples.shape


def test_a_float_array_is_never_written_as_int16_by_truncation():
    import io

    from svcprep.errors import StorageError
    from svcprep.outputs.records import Wav

    with pytest.raises(StorageError, match="int16"):
        CODECS["wav_int16"].encode(Wav(np.zeros(10, np.float32), 16000), io.BytesIO())


def test_the_sink_is_chosen_by_name_and_an_unknown_one_is_a_usage_error(tmp_path):
    from svcprep.errors import ConfigError
    from svcprep.store.sink import open_sink
    from tests.conftest import amphion_config

    assert isinstance(open_sink(tmp_path, kind="files"), FileSink)
    with pytest.raises(ConfigError, match="storage"):
        open_sink(tmp_path, kind="sharded-nope")
    assert amphion_config(tmp_path, tmp_path / "o", storage="files").storage == "files"
    with pytest.raises(ConfigError, match="storage"):
        amphion_config(tmp_path, tmp_path / "o", storage="sharded-nope")
