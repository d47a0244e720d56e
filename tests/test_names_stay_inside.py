"""Names that come from data (a separator's stems, a step's name, a manifest's uid) never become paths outside the
output dir or over svcprep's own files: each is refused in one line, exit 2, before anything is read or written,
and nothing outside OUT is touched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app

FIXTURES = Path(__file__).parent / "fixtures" / "roformer_msst"
BS = FIXTURES / "bs_roformer.ckpt"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def song_and_victim(tmp_path):
    corpus = tmp_path / "work" / "corpus"
    corpus.mkdir(parents=True)
    t = np.arange(44100) / 44100
    sf.write(corpus / "song.wav", np.stack([np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32) * 0.3,
             44100, subtype="FLOAT")
    victim = tmp_path / "victim" / "Music"
    victim.mkdir(parents=True)
    (victim / "keep-me.wav").write_bytes(b"a user's file")
    return corpus, victim


def hostile_yaml(directory: Path, instruments: list[str], target: str) -> Path:
    text = (FIXTURES / "bs_roformer.yaml").read_text(encoding="utf-8")
    block = "  instruments:\n  - vocals\n  - other\n  target_instrument: vocals\n"
    head, _, tail = text.partition(block)
    assert tail, "the fixture's training block moved"
    path = directory / "hostile.yaml"
    path.write_text(head + "  instruments:\n" + "".join(f"  - {json.dumps(i)}\n" for i in instruments)
                    + f"  target_instrument: {json.dumps(target)}\n" + tail, encoding="utf-8")
    return path


@pytest.mark.parametrize("target", [True, False])
@pytest.mark.parametrize("stem", ["../../../victim/Music", "/tmp/victim", "..", ".", ".svcprep", "_failures.jsonl",
                                  "a\\b", "", "x\ny"])
def test_a_stem_name_that_is_a_path_is_refused_and_nothing_outside_out_changes(tmp_path, song_and_victim, stem,
                                                                               target):
    corpus, victim = song_and_victim
    before = files_under(tmp_path / "victim")
    config = hostile_yaml(tmp_path, [stem, "other"], stem if target else "other")
    out = tmp_path / "work" / "out"
    result = cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--config", f"vocals={config}",
                 "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1, result.output
    assert "instruments" in result.output
    assert not out.exists()
    assert files_under(tmp_path / "victim") == before


@pytest.mark.parametrize("name", ["..", "../x", ".svcprep", "_failures.jsonl", ".hidden", "~user", "a/b"])
def test_a_step_name_that_is_not_a_plain_name_is_refused(tmp_path, song_and_victim, name):
    corpus, _ = song_and_victim
    out = tmp_path / "work" / "out"
    result = cli("separate", corpus, "--out", out, "--model", f"{name}={BS}", "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()


def test_the_hostile_stem_of_a_run_config_is_refused_before_anything_is_written(tmp_path, song_and_victim):
    corpus, victim = song_and_victim
    before = files_under(tmp_path / "victim")
    hostile = "../../../victim/Music"
    config = tmp_path / "songs.yaml"
    config.write_text(json.dumps({"recipe": "rvc", "separate": [
        {"model": str(BS), "config": str(hostile_yaml(tmp_path, [hostile, "other"], hostile))}]}))
    result = cli("run", "-c", config, "--corpus", corpus, "--out", tmp_path / "work" / "out", "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "work" / "out").exists()
    assert files_under(tmp_path / "victim") == before


@pytest.mark.parametrize("uid", [".svcprep/done", "a/.svcprep/x", "_failures.jsonl"])
def test_a_manifest_uid_that_names_svcprep_bookkeeping_is_refused(tmp_path, song_and_victim, uid):
    corpus, _ = song_and_victim
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(json.dumps({"uid": uid, "path": str(corpus / "song.wav")}) + "\n", encoding="utf-8")
    result = cli("mel", manifest, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "svcprep's own" in result.output
    assert not (tmp_path / "out").exists()
