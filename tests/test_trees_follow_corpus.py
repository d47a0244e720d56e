"""Trees whose names or ids depend on the whole corpus (Applio's ``<sid>_<i>_<j>``, so-vits-svc-fork's speaker
ids) after a clip or a singer is added or removed: the rerun either leaves the tree a fresh run on the new corpus
writes, or refuses in one sentence that says what changed and that ``--overwrite`` rebuilds (and then the rebuilt
tree is the fresh run's). A source named like another source's piece is refused before anything runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import known_pitch_clip, sing


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def tree_files(out: Path) -> dict[str, bytes]:
    """Every file a trainer reads (bookkeeping and the failure log aside), the root's own path written as <OUT>."""
    return {str(p.relative_to(out)): p.read_bytes().replace(str(out).encode(), b"<OUT>")
            for p in sorted(out.rglob("*"))
            if p.is_file() and ".svcprep" not in p.relative_to(out).parts and p.name != "_failures.jsonl"}


def applio_take(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, known_pitch_clip(44100, 5.0, ((2.0, 2.5),), seed=seed), 44100)


def run_applio(corpus, out, content_model, *extra):
    return cli("run", "-c", "applio", "--corpus", corpus, "--out", out, "--model", f"contentvec={content_model}",
               "--set", "contentvec.layer=2", "--device", "cpu", *extra)


def test_applio_refuses_a_clip_removed_or_a_singer_added_and_overwrite_gives_a_fresh_tree(tmp_path, content_model):
    corpus = tmp_path / "takes"
    for uid, seed in (("alice/a1", 1), ("alice/a2", 2), ("bob/b1", 3)):
        applio_take(corpus / f"{uid}.wav", seed)
    out = tmp_path / "logs" / "voice"
    assert run_applio(corpus, out, content_model).exit_code == 0
    before = tree_files(out)
    assert any(name.startswith("sliced_audios/1_2_") for name in before)  # bob's take is take 2

    (corpus / "alice" / "a1.wav").unlink()  # bob's take becomes take 1: its pieces would be renamed
    result = run_applio(corpus, out, content_model)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "the corpus changed" in line and "removed 'alice/a1'" in line
    assert "--overwrite" in line
    assert tree_files(out) == before  # refused before anything was written

    applio_take(corpus / "aaron" / "x1.wav", 4)  # a singer sorted first: every sid moves
    result = run_applio(corpus, out, content_model)
    assert result.exit_code == 2 and "added 'aaron/x1'" in result.output, result.output

    assert run_applio(corpus, out, content_model, "--overwrite").exit_code == 0
    fresh = tmp_path / "fresh" / "logs" / "voice"
    assert run_applio(corpus, fresh, content_model).exit_code == 0
    assert tree_files(out) == {k: v for k, v in tree_files(fresh).items()}
    assert cli("verify", out).exit_code == 0


def fork_clip(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = np.concatenate([np.zeros(4410, np.float32), sing(1.0, 44100, seed=seed), np.zeros(4410, np.float32)])
    sf.write(path, 0.6 * wav, 44100)


def run_fork(corpus, out, content_model, *extra):
    return cli("run", "-c", "so-vits-svc-fork", "--corpus", corpus, "--out", out, "--model",
               f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu", *extra)


def test_the_fork_follows_clips_added_and_removed_and_refuses_a_new_singer_in_one_sentence(tmp_path, content_model):
    corpus = tmp_path / "dataset_raw"
    for uid, seed in (("bob/b0", 1), ("bob/b1", 2), ("carol/c0", 3)):
        fork_clip(corpus / f"{uid}.wav", seed)
    out = tmp_path / "project"
    assert run_fork(corpus, out, content_model).exit_code == 0

    fork_clip(corpus / "bob" / "b2.wav", 4)  # a clip added to a singer: follows the corpus
    (corpus / "carol" / "c1.wav").write_bytes((corpus / "bob" / "b0.wav").read_bytes())
    (corpus / "bob" / "b1.wav").unlink()  # and one removed
    result = run_fork(corpus, out, content_model)
    assert result.exit_code == 0, result.output
    fresh = tmp_path / "fresh"
    assert run_fork(corpus, fresh, content_model).exit_code == 0
    assert tree_files(out) == tree_files(fresh) and "dataset/44k/bob/b2.wav.data.pt" in tree_files(out)
    assert "dataset/44k/bob/b1.wav" not in tree_files(out)

    fork_clip(corpus / "alice" / "a0.wav", 5)  # a singer sorted first: bob's and carol's ids move
    result = run_fork(corpus, out, content_model)
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "the corpus changed" in line and "speaker_ids: added 'alice'" in line
    assert "renumbered 'bob', 'carol'" in line and "--overwrite" in line
    assert run_fork(corpus, out, content_model, "--overwrite").exit_code == 0
    shutil.rmtree(fresh)
    assert run_fork(corpus, fresh, content_model).exit_code == 0
    assert tree_files(out) == tree_files(fresh)
    assert cli("verify", out).exit_code == 0


def test_a_source_named_like_another_sources_piece_is_refused(tmp_path, content_model):
    corpus = tmp_path / "dataset_raw"
    fork_clip(corpus / "bob" / "take.wav", 1)
    fork_clip(corpus / "bob" / "take_00001.wav", 2)
    result = run_fork(corpus, tmp_path / "project", content_model)
    assert result.exit_code == 2, result.output
    assert "'bob/take_00001' is named like piece 1 of 'bob/take'" in result.output
    assert not (tmp_path / "project").exists()
