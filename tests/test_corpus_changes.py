"""A tree follows its corpus and its settings: outputs are never read back as audio, a source replaced under its
name is redone, other slicing settings are refused (or redone whole with --overwrite), and settings that cannot
work are usage errors before anything is written."""

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import known_pitch_clip, write_corpus
from tests.conftest import done_uids

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "in"
    write_corpus(root)
    return root


def corpus_uids(root):
    return {p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*") if p.suffix in (".wav", ".flac",
                                                                                                   ".ogg")}


def test_an_output_dir_inside_the_corpus_is_never_read_back_as_audio(corpus, tmp_path):
    uids = corpus_uids(corpus)
    out = corpus / "sovits_out"
    for _ in range(2):
        result = cli("slice", corpus, "--out", out, "--preset", "openvpi")
        assert result.exit_code in (0, 1), result.output
    sources = {json.loads(line)["source"] for line in (out / "pieces.jsonl").read_text().splitlines()}
    assert sources and all(str(out) not in source for source in sources)
    assert {json.loads(line)["uid"].rsplit("/", 1)[0] for line in (out / "pieces.jsonl").read_text().splitlines()} \
        <= uids
    # another svcprep output root inside the corpus (an earlier run's) is left out too
    result = cli("mel", corpus, "--out", tmp_path / "mels")
    assert result.exit_code == 0, result.output
    assert done_uids(tmp_path / "mels", "mels") == uids


def test_the_corpus_dir_itself_as_the_output_dir_is_a_usage_error(corpus):
    result = cli("slice", corpus, "--out", corpus, "--preset", "openvpi")
    assert result.exit_code == 2 and "is the corpus dir" in result.output, result.output
    assert not (corpus / ".svcprep").exists() and not (corpus / "pieces").exists()


def write_take(path, seconds, seed=3):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, known_pitch_clip(16000, seconds, ((seconds / 3, seconds / 3 + 1.0),), seed=seed), 16000)


def test_other_slicing_settings_are_refused_before_anything_is_written(tmp_path):
    write_take(tmp_path / "takes" / "alice" / "t1.wav", 14.0)
    out = tmp_path / "s"
    first = cli("slice", tmp_path / "takes", "--out", out, "--preset", "openvpi")
    assert first.exit_code == 0, first.output
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = cli("slice", tmp_path / "takes", "--out", out, "--preset", "openvpi", "--set", "slice.min_length_ms=8000")
    assert result.exit_code == 2 and "stages[0].min_length_ms: 5000 -> 8000" in result.output, result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("setting, expected", [
    ("slice.threshold_db=abc", "slice.threshold_db must be a number, got 'abc'"),
    ("slice.piece_seconds=1e-9", "slice.piece_seconds = 1e-09 is not in [0.1, 3600]"),
    ("slice.sample_rate=2000000000", "slice.sample_rate = 2e+09 is not in [1000, 384000]"),
    ("slice.hop_ms=0.001", "slice.hop_ms = 0.001 is not in [1, 1000]"),
    ("slice.highpass_hz=30000", "slice.highpass_hz = 30000 is not in (0, 24000]"),
    ("slice.max_peak=-1", "slice.max_peak = -1 is not in (0, 1e+06]"),
    ("slice.min_piece_seconds=5", "need min_piece_seconds <= max_piece_seconds"),
])
def test_slicing_settings_out_of_bounds_are_usage_errors_before_any_audio_is_read(tmp_path, setting, expected):
    write_take(tmp_path / "takes" / "alice" / "t1.wav", 4.0)
    extra = ["--set", "slice.max_piece_seconds=2"] if "min_piece" in setting else []
    result = cli("slice", tmp_path / "takes", "--out", tmp_path / "s", "--set", setting, *extra)
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "s").exists()


def test_a_yaml_alias_bomb_in_a_slicing_setting_is_refused_at_once(tmp_path):
    import time

    write_take(tmp_path / "takes" / "alice" / "t1.wav", 4.0)
    levels = ["    - &a [x, x, x, x, x, x, x, x, x, x]\n"]  # each level ten times the last: 10**9 leaves
    for i in range(8):
        below = chr(97 + i)
        levels.append(f"    - &{chr(98 + i)} [{', '.join([f'*{below}'] * 10)}]\n")
    config = tmp_path / "bomb.yaml"
    config.write_text(f"recipe: pieces\ncorpus: {tmp_path / 'takes'}\nout: {tmp_path / 's'}\nslice:\n"
                      "  threshold_db:\n" + "".join(levels))
    started = time.monotonic()
    result = cli("run", "-c", config)
    assert result.exit_code == 2 and "slice.threshold_db must be a number, got a list" in result.output, result.output
    assert time.monotonic() - started < 30 and not (tmp_path / "s").exists()


def test_numbers_with_an_exponent_and_odd_recipe_values_are_read_or_refused_in_one_line(tmp_path):
    from svcprep.cli.pipeline_cmds import parse_options

    assert parse_options(["pitch.threshold=1e-3", "slice.piece_seconds=2.5", "x.name=abc", "x.n=inf"]) == {
        "pitch": {"threshold": 0.001}, "slice": {"piece_seconds": 2.5}, "x": {"name": "abc", "n": "inf"}}
    write_take(tmp_path / "takes" / "alice" / "t1.wav", 4.0)
    for value in ("[so-vits-svc]", "{a: 1}"):
        config = tmp_path / "c.yaml"
        config.write_text(f"recipe: {value}\ncorpus: {tmp_path / 'takes'}\nout: {tmp_path / 'o'}\n")
        result = cli("run", "-c", config)
        assert result.exit_code == 2 and "recipe must be a name" in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_the_top_level_help_says_what_the_tool_is_in_one_line_per_command():
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "svcprep", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "80"})
    from svcprep.recipes import RECIPES

    trainers = ", ".join(name for name in RECIPES if name != "pieces")
    assert proc.returncode == 0 and f"the trees the trainers read ({trainers})" in " ".join(proc.stdout.split())
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│ ") and not line.startswith("│ --")]
    commands = ("run", "mel", "extract", "pitch", "separate", "report", "slice", "stats", "verify", "plot", "hops",
                "align")
    assert [row.split()[1] for row in rows] == list(commands), proc.stdout  # one line each, no wrapped paragraph
    assert "aligned to the exact mel frame grid" not in proc.stdout and "sha256" not in proc.stdout


def test_an_rvc_output_dir_with_a_bar_is_refused_before_any_model_loads(tmp_path):
    write_take(tmp_path / "takes" / "alice" / "t1.wav", 4.0)
    out = tmp_path / "exp|1"
    result = cli("run", "-c", "rvc", "--corpus", tmp_path / "takes", "--out", out, "--model",
                 f"contentvec={tmp_path / 'no-such-model.pt'}")
    assert result.exit_code == 2 and "separates its fields with '|'" in result.output, result.output
    assert not out.exists()


def test_rvc_file_stems_that_clash_are_named(tmp_path):
    from svcprep.corpus.scan import load_corpus
    from svcprep.errors import ConfigError
    from svcprep.recipes.rvc import rvc_stems

    for name in ("alice/take_1.wav", "alice_take/1.wav", "bob/t2.wav"):
        write_take(tmp_path / "c" / name, 2.0)
    with pytest.raises(ConfigError, match="'alice/take_1' and 'alice_take/1' would share the file stem"):
        rvc_stems(load_corpus(tmp_path / "c"))
    (tmp_path / "c" / "alice_take" / "1.wav").unlink()
    assert rvc_stems(load_corpus(tmp_path / "c")) == {"alice/take_1": "alice_take_1", "bob/t2": "bob_t2"}


def test_verify_of_a_multi_recipe_sliced_run_checks_each_subtree(tmp_path):
    write_take(tmp_path / "takes" / "alice" / "t1.wav", 14.0)
    for label in ("first", "second"):
        (tmp_path / f"{label}.yaml").write_text("recipe: pieces\nslice: openvpi\n")
    out = tmp_path / "out"
    result = cli("run", "-c", tmp_path / "first.yaml", "-c", tmp_path / "second.yaml", "--corpus", tmp_path / "takes",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert not (out / ".svcprep").exists()  # every record lives in its own tree
    checked = cli("verify", out)
    assert checked.exit_code == 0 and "first/pieces" in checked.output and "second/pieces" in checked.output, \
        checked.output


def test_messages_name_what_is_wrong(tmp_path):
    import os

    write_take(tmp_path / "takes" / "alice" / "t1.wav", 6.0)
    (tmp_path / "dir.pt").mkdir()
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    for model, expected in ((tmp_path / "dir.pt", "is a directory"), (fifo, "is not a regular file"),
                            (tmp_path / "none.pt", "does not exist")):
        for args in (["pitch", tmp_path / "takes", "--out", tmp_path / "p", "--method", "rmvpe", "--model",
                      f"rmvpe={model}"], ["pitch", tmp_path / "takes", "--out", tmp_path / "p", "--method", "rmvpe",
                                          "--model", model]):
            result = cli(*args)  # NAME=PATH, as `run` takes it, or the path alone
            assert result.exit_code == 2 and f"checkpoint {model} {expected}" in result.output, result.output
    assert not (tmp_path / "p").exists()
    # a take peaking at 4 is too loud for RVC's max_peak, not silent
    loud = tmp_path / "loud" / "alice" / "t1.wav"
    loud.parent.mkdir(parents=True)
    samples, rate = sf.read(tmp_path / "takes" / "alice" / "t1.wav")
    sf.write(loud, samples / abs(samples).max() * 4.0, rate, subtype="FLOAT")
    result = cli("slice", loud.parent.parent, "--out", tmp_path / "s", "--preset", "rvc")
    assert result.exit_code == 1, result.output
    failure = json.loads((tmp_path / "s" / "_failures.jsonl").read_text().splitlines()[0])
    assert failure["stage"] == "slice" and "peaks above slice.max_peak 2.5" in failure["reason"], failure


def test_a_source_replaced_under_its_name_is_redone(corpus, tmp_path):
    import os

    out = tmp_path / "o"
    assert cli("mel", corpus, "--out", out).exit_code == 0
    target = next(corpus.rglob("*.wav"))
    uid = target.relative_to(corpus).with_suffix("").as_posix()
    mel = out / "mels" / f"{uid}.npy"
    frames = np.load(mel).shape[1]
    samples, rate = sf.read(target)
    sf.write(target, np.concatenate([samples, samples]), rate)  # twice as long, same name
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    result = cli("mel", corpus, "--out", out)
    assert result.exit_code == 0 and "done 1," in result.output, result.output  # only the replaced file
    assert np.load(mel).shape[1] > frames * 1.9
    assert cli("verify", out).exit_code == 0


def test_a_take_replaced_after_slicing_is_cut_again(tmp_path):
    import os

    take = tmp_path / "takes" / "alice" / "t1.wav"
    write_take(take, 8.0)
    out = tmp_path / "s"
    assert cli("slice", tmp_path / "takes", "--out", out, "--preset", "openvpi").exit_code == 0
    before = [json.loads(line) for line in (out / "pieces.jsonl").read_text().splitlines()]
    write_take(take, 16.0, seed=5)
    os.utime(take, ns=(take.stat().st_atime_ns, take.stat().st_mtime_ns + 10**9))
    result = cli("slice", tmp_path / "takes", "--out", out, "--preset", "openvpi")
    assert result.exit_code == 0, result.output
    after = [json.loads(line) for line in (out / "pieces.jsonl").read_text().splitlines()]
    assert max(r["end"] for r in after) > max(r["end"] for r in before) * 1.5  # the new take's spans
    for row in after:  # and each listed piece is the new take's samples over its span
        samples, _ = sf.read(out / row["path"], dtype="float32")
        assert len(samples) == row["end"] - row["start"]
