import os
import time

import numpy as np
import pytest

from svcprep.pipeline.runner import _Progress
from svcprep.pipeline.storage import FailureLog, atomic_save_npy, read_npy_shape, remove_stale_temp_files


def test_atomic_save_leaves_no_temp_and_header_shape(tmp_path):
    path = tmp_path / "a" / "b.npy"
    atomic_save_npy(path, np.zeros((3, 7), np.float16))
    assert read_npy_shape(path) == ((3, 7), np.dtype(np.float16))
    assert [p.name for p in path.parent.iterdir()] == ["b.npy"]


def test_failed_save_keeps_old_file_and_removes_temp(tmp_path):
    path = tmp_path / "x.npy"
    atomic_save_npy(path, np.ones(3))
    with pytest.raises(ValueError):
        atomic_save_npy(path, np.array([object()], dtype=object))  # pickling refused mid-write
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
    log.compact(lambda record: record["uid"] == "b")
    assert log.path.read_text().splitlines() == ['{"uid": "a", "stage": "decode", "reason": "new"}']


def test_progress_prints_plain_lines_when_not_a_tty(capsys):
    progress = _Progress(total_seconds=10.0, interval_seconds=0.0)
    progress.update(5.0)
    progress.close()
    assert "progress: 5/10 s of audio" in capsys.readouterr().err
