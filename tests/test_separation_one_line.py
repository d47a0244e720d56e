"""Separation's failures are one line, never a traceback: a full disk while writing stems, a CUDA device torch
cannot use, an --out that is a file; a killed run's temp files are cleaned as the trees' are; after --overwrite
with other stems kept, the dir is what a fresh run writes."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import known_pitch_clip

BS = Path(__file__).parent / "fixtures" / "roformer_msst" / "bs_roformer.ckpt"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def songs(tmp_path):
    root = tmp_path / "songs"
    root.mkdir()
    for index in range(2):
        voice = known_pitch_clip(44100, 1.5, (), seed=index)
        sf.write(root / f"s{index}.wav", np.stack([voice, 0.8 * voice], axis=1), 44100, subtype="FLOAT")
    return root


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".svcprep" not in p.relative_to(root).parts}


def one_line_error(result) -> None:
    assert result.exit_code in (1, 2) and "Traceback" not in result.output, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1, result.output


def test_a_full_disk_while_writing_stems_is_one_line_and_leaves_no_partial_stem(tmp_path, songs, monkeypatch):
    import svcprep.corpus.separation

    def full(self, block):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(svcprep.corpus.separation.StreamingWav, "write", full)
    out = tmp_path / "out"
    result = cli("separate", songs, "--out", out, "--model", f"vocals={BS}", "--device", "cpu")
    one_line_error(result)
    assert "No space left on device" in result.output and "rerun to resume" in result.output
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix in (".wav", ".tmp")]


def test_a_cuda_device_torch_cannot_use_is_one_line(tmp_path, songs, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = cli("separate", songs, "--out", tmp_path / "out", "--model", f"vocals={BS}", "--device", "cuda")
    one_line_error(result)
    assert result.exit_code == 2 and "no usable CUDA GPU" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["separate", "report", "mel"])
def test_an_out_that_is_a_file_is_one_line(tmp_path, songs, command):
    out = tmp_path / "a-file"
    out.write_text("not a dir")
    args = {"separate": ("--model", f"vocals={BS}", "--device", "cpu"), "report": ("--no-pitch",), "mel": ()}
    result = cli(command, songs, "--out", out, *args[command])
    one_line_error(result)
    assert result.exit_code == 2 and out.read_text() == "not a dir"


def test_a_killed_runs_temp_files_are_cleaned(tmp_path, songs):
    out = tmp_path / "out"
    assert cli("separate", songs, "--out", out, "--model", f"vocals={BS}", "--device", "cpu").exit_code == 0
    stale = out / ".svcprep" / "tmp" / ".s0.wav.abc123.tmp"  # as a kill mid-track leaves it
    stale.write_bytes(b"\0" * 4096)
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    (songs / "s2.wav").write_bytes((songs / "s0.wav").read_bytes())
    assert cli("separate", songs, "--out", out, "--model", f"vocals={BS}", "--device", "cpu").exit_code == 0
    assert not stale.exists()


@pytest.mark.parametrize("before, after", [
    (("--also", "vocals=residual"), ()),
    ((), ("--keep", "vocals=residual")),
])
def test_overwrite_with_other_stems_kept_leaves_a_fresh_runs_dir(tmp_path, songs, before, after):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    step = ("--model", f"vocals={BS}", "--device", "cpu")
    assert cli("separate", songs, "--out", out, *step, *before).exit_code == 0
    refused = cli("separate", songs, "--out", out, *step, *after)
    assert refused.exit_code == 2 and "--overwrite" in refused.output, refused.output
    assert cli("separate", songs, "--out", out, *step, *after, "--overwrite").exit_code == 0
    assert cli("separate", songs, "--out", fresh, *step, *after).exit_code == 0
    assert files_of(out) == files_of(fresh) and files_of(out)
    assert cli("verify", out).exit_code == 0
