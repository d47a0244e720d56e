"""A process death at fixed points of the write path, then a rerun: the result equals an uninterrupted run
bit for bit, and nothing half-written is ever visible or counted as done."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from svcprep.demo.synthetic import SyntheticFile, write_corpus
from tests.conftest import done_uids
from tests.crash_driver import CRASH_EXIT_CODE

ROOT = Path(__file__).resolve().parents[1]
NUM_FILES = 6
# Lengths such that every batch of at most 1 s holds one file: the same batches with or without a crash.
FILES = tuple(SyntheticFile(f"c/{i}.wav", 0.6 + 0.1 * i, 16000, 1) for i in range(NUM_FILES))
OUTPUTS = ("hubert", "hubert_native")


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_models_by_name):
    root = tmp_path_factory.mktemp("crash")
    write_corpus(root / "corpus", FILES)
    model, _ = tiny_models_by_name["hubert"]

    def args(out: Path) -> list[str]:
        return ["extract", str(root / "corpus"), "--out", str(out), "-e", "hubert", "--model", f"hubert={model}",
                "--keep-native", "--num-workers", "0", "--batch-seconds", "1"]

    clean = root / "clean"
    proc = subprocess.run([sys.executable, "-m", "svcprep", *args(clean)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return root, args, clean


def files_of(out: Path, output: str) -> dict[str, bytes]:
    return {p.relative_to(out / output).as_posix(): p.read_bytes() for p in (out / output).rglob("*") if p.is_file()}


@pytest.mark.parametrize("point,count", [("after-model", 3), ("mid-write", 5), ("before-append", 5),
                                         ("after-append", 5)])
def test_crash_then_resume_equals_an_uninterrupted_run(job, point, count):
    root, args, clean = job
    out = root / point
    crash = subprocess.run([sys.executable, "-m", "tests.crash_driver", point, str(count), *args(out)],
                           cwd=ROOT, capture_output=True, text=True)
    assert crash.returncode == CRASH_EXIT_CODE, crash.stdout + crash.stderr  # the crash landed
    done = {output: done_uids(out, output) for output in OUTPUTS}
    assert 0 < len(done["hubert"]) < NUM_FILES, done
    for output in OUTPUTS:
        visible = files_of(out, output)
        assert all(name.endswith(".npy") for name in visible)  # temp files live in the bookkeeping dir
        for name in visible:
            np.load(out / output / name)  # nothing visible is partial
        assert {f"{uid}.npy" for uid in done[output]} <= set(visible)  # nothing is done before it is written
    resumed = subprocess.run([sys.executable, "-m", "svcprep", *args(out)], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipped {len(done['hubert'] & done['hubert_native'])}" in resumed.stdout
    for output in OUTPUTS:
        assert files_of(out, output) == files_of(clean, output)
        assert done_uids(out, output) == {f"c/{i}" for i in range(NUM_FILES)}
