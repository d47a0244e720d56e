"""`--backend ray` on a local 2-CPU Ray cluster started by the run: the same files as the local backend, bit for
bit; a model actor killed mid-run is restarted and its work retried, with no duplicate or missing uid; a driver
killed mid-run resumes on a rerun."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray  # noqa: F401  (extra `ray`, installed by `make install`: a missing one fails here, never skips)

from svcprep.demo.synthetic import SyntheticFile, write_corpus
from svcprep.outputs.records import DoneEntry
from svcprep.pipeline.ray_backend import BATCHES_PER_BLOCK
from tests.conftest import process_ids

# More files than one Ray block holds (BATCHES_PER_BLOCK batches of one file each on CPU): once the first block's
# files are done, the model actor is still busy with the next, which is when the tests kill it.
NUM_FILES = 2 * BATCHES_PER_BLOCK + 4
FILES = tuple(SyntheticFile(f"s{i % 2}/{i:02d}.wav", 0.7 + 0.05 * (i % 12), (16000, 44100, 24000)[i % 3], 1)
              for i in range(NUM_FILES))
TIMEOUT = 300


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_models_by_name):
    root = tmp_path_factory.mktemp("ray")
    write_corpus(root / "corpus", FILES)
    config = {"corpus": str(root / "corpus"), "mels": True, "energy": True, "pitch": {"method": "dio"},
              "keep_native": True, "extractors": [{"name": "hubert", "model": str(tiny_models_by_name["hubert"][0])}]}
    (root / "run.yaml").write_text(json.dumps(config))

    def command(out, *extra):
        return [sys.executable, "-m", "svcprep", "run", "--config", str(root / "run.yaml"), "--out", str(out), *extra]

    local = subprocess.run(command(root / "local"), capture_output=True, text=True, timeout=TIMEOUT)
    assert local.returncode == 0, local.stderr
    return root, command


def files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.npy")}


def done_lines(out, output="hubert"):
    """Every done-list line's uid (duplicates kept), read as the store reads them."""
    uids = []
    for path in (out / ".svcprep" / output / "done").glob("*/*.txt"):
        uids += [DoneEntry.from_line(line).uid for line in path.read_text().splitlines()
                 if DoneEntry.from_line(line) is not None]
    return uids


def session_processes(session_id):
    return process_ids("session", session_id)


def kill_session(session_id):
    for pid in session_processes(session_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start(command):
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def wait_until(condition, proc, seconds=TIMEOUT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_ray_backend_writes_the_local_files_bit_for_bit(job):
    root, command = job
    proc = start(command(root / "ray", "--backend", "ray"))
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        kill_session(proc.pid)
    assert proc.returncode == 0, output
    local, ray_files = files(root / "local"), files(root / "ray")
    assert set(local) == set(ray_files) and len(local) == NUM_FILES * 6  # mels, energys, pitches, uvs, 2 features
    assert all(local[name] == ray_files[name] for name in local)


def test_a_killed_model_actor_is_retried_without_duplicates_or_holes(job):
    root, command = job
    out = root / "actor_killed"
    proc = start(command(out, "--backend", "ray"))
    killed = []
    try:
        def actor_busy_and_some_done():
            if not done_lines(out):
                return False
            for pid in session_processes(proc.pid):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"_Models" in cmdline and len(done_lines(out)) < NUM_FILES:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return True
            return False

        assert wait_until(actor_busy_and_some_done, proc), "no model actor found mid-run"
        output, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        kill_session(proc.pid)
    assert killed and proc.returncode == 0, output
    lines = done_lines(out)
    assert len(lines) == len(set(lines)) == NUM_FILES
    local = files(root / "local")
    assert files(out) == local


def test_a_killed_driver_resumes(job):
    root, command = job
    out = root / "driver_killed"
    proc = start(command(out, "--backend", "ray"))
    try:
        assert wait_until(lambda: 0 < len(done_lines(out, "mels")), proc), "the run ended before the kill"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        kill_session(proc.pid)
    before = set.intersection(*(set(done_lines(out, name))
                                for name in ("mels", "energys", "pitches", "hubert", "hubert_native")))
    hubert_before = set(done_lines(out, "hubert")) & set(done_lines(out, "hubert_native"))
    assert len(set(done_lines(out, "mels"))) < NUM_FILES
    resumed = start(command(out, "--backend", "ray"))
    try:
        output, _ = resumed.communicate(timeout=TIMEOUT)
    finally:
        kill_session(resumed.pid)
    assert resumed.returncode == 0, output
    assert f"skipped {len(before)}" in output
    # The model actors saw only the clips whose hubert files were not finished (none recomputed).
    ran = re.search(r"models ran on \(clips\): hubert (\d+)", output)
    assert ran and int(ran.group(1)) == NUM_FILES - len(hubert_before), output
    assert files(out) == files(root / "local")


def test_a_model_actor_that_keeps_dying_stops_the_run_with_one_line(job):
    """Every model actor is killed as soon as it appears (a model that crashes its process): the run stops instead
    of restarting actors forever, with one line saying why and where Ray's trace is, and a failing exit code."""
    root, command = job
    out = root / "actor_crash_loop"
    proc = start(command(out, "--backend", "ray"))
    killed = set()

    def kill_model_actors():
        for pid in session_processes(proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"_Models" in cmdline and pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        return False

    try:
        wait_until(kill_model_actors, proc)
        output, _ = proc.communicate(timeout=30)
    finally:
        kill_session(proc.pid)
    assert proc.returncode not in (0, None), output
    assert "the Ray backend stopped" in output and "restarted at most" in output, output
    assert "Traceback" not in output, output
    assert 0 < len(killed), output
