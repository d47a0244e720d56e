"""Singers and files named in any script: bookkeeping is UTF-8 end to end, so a fresh tree whose singers are
``Zoë``, ``张三`` and ``李四`` verifies clean, its report counts every singer's clips, and two CJK singers keep
their own folders (the trainers read any Unicode path: so-vits-svc-fork lists its speakers from
``dataset/44k/<name>``)."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import sing
from svcprep.recipes.speakers import safe_name

SINGERS = ("Zoë", "张三", "李四")


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def fork_tree(root, content_model, singers):
    corpus = root / "corpus"
    for index, singer in enumerate(singers):
        (corpus / singer).mkdir(parents=True)
        for take in range(2):
            wav = np.concatenate([np.zeros(4410, np.float32), sing(1.0, 44100, seed=10 * index + take),
                                  np.zeros(4410, np.float32)])
            sf.write(corpus / singer / f"歌{take}.wav", 0.6 * wav, 44100)
    out = root / "project"
    result = cli("run", "-c", "so-vits-svc-fork", "--corpus", corpus, "--out", out, "--model",
                 f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    return corpus, out


@pytest.fixture(scope="module")
def unicode_tree(tmp_path_factory, content_model):
    return fork_tree(tmp_path_factory.mktemp("letters"), content_model, SINGERS)


@pytest.fixture(scope="module")
def zoe_tree(tmp_path_factory, content_model):
    """One singer with a letter outside ASCII beside one without (no name clash even under an ASCII-only rule)."""
    return fork_tree(tmp_path_factory.mktemp("zoe"), content_model, ("Zoë", "bob"))


def test_each_singer_keeps_their_own_folder(unicode_tree):
    _, out = unicode_tree
    speakers = sorted(p.name for p in (out / "dataset" / "44k").iterdir() if p.is_dir())
    assert speakers == sorted(SINGERS)
    for singer in SINGERS:
        assert sorted(p.name for p in (out / "dataset" / "44k" / singer).glob("*.wav")) == ["歌0.wav", "歌1.wav"]
    config = json.loads((out / "configs" / "44k" / "config.json").read_text(encoding="utf-8"))
    assert sorted(config["spk"]) == sorted(SINGERS)


@pytest.mark.parametrize("tree", ["zoe_tree", "unicode_tree"])
def test_a_fresh_unicode_tree_verifies_clean(tree, request):
    _, out = request.getfixturevalue(tree)
    result = cli("verify", out)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("tree, singers", [("zoe_tree", ("Zoë", "bob")), ("unicode_tree", SINGERS)])
def test_the_report_of_a_unicode_tree_counts_every_singers_clips(tree, singers, request, tmp_path):
    _, out = request.getfixturevalue(tree)
    result = cli("report", out, "--out", tmp_path / "report", "--no-pitch", "--workers", "1")
    assert result.exit_code in (0, 1), result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert sorted(report["singers"]) == sorted(singers)
    assert all(report["singers"][s]["clips"] == 2 for s in singers), report["singers"]
    assert report["totals"]["clips"] == 2 * len(singers) and not report["failures"]


def test_safe_names_keep_letters_of_any_script_and_replace_path_characters():
    assert safe_name("张三") != safe_name("李四")
    assert safe_name("Zoë") == "Zoë" == safe_name(unicodedata.normalize("NFD", "Zoë"))
    assert safe_name("a.b c/d") == "a_b_c_d"
    assert safe_name("..") == "__"
