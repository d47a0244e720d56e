"""A separator's YAML is data from its author: sizes are bounded, the STFT and the chunking must fit together,
and a hostile value (an alias bomb, a huge number) is refused in one short line, exit 2, before any model is built
or anything is recorded. ``--batch-size`` is bounded (memory stays flat); ``--dtype`` is part of the record."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app

FIXTURES = Path(__file__).parent / "fixtures" / "roformer_msst"
BS = FIXTURES / "bs_roformer.ckpt"
YAML = (FIXTURES / "bs_roformer.yaml").read_text(encoding="utf-8")


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "songs"
    root.mkdir()
    t = np.arange(66150) / 44100
    sf.write(root / "song.wav", np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32),
             44100, subtype="FLOAT")
    return root


def edited(tmp_path: Path, key: str, value: str, block: str = "model") -> Path:
    """The fixture's YAML with ``block.key`` set to ``value`` (a YAML fragment; ``k: v`` pairs with ``;``)."""
    text = YAML
    for pair in f"{key}: {value}".split(";"):
        key, value = (part.strip() for part in pair.split(":", 1))
        text, count = re.subn(rf"(?m)^(  {key}:).*$", lambda m, value=value: f"{m.group(1)} {value}", text)
        if not count:
            text = text.replace(f"{block}:\n", f"{block}:\n  {key}: {value}\n", 1)
    path = tmp_path / "edited.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def separate(corpus: Path, out: Path, config: Path, *extra):
    return cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--config", f"vocals={config}",
               "--device", "cpu", *extra)


# "Billion laughs": nine levels of nine references, 9^10 ones once expanded (PyYAML shares them; a repr would not).
BOMB = "bomb:\n  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))


@pytest.mark.parametrize("key, value, expected", [
    ("dim", "1000000000", "dim must be an integer in [1, 4096]"),
    ("depth", "1000000", "depth must be an integer in [1, 64]"),
    ("heads", "0", "heads must be an integer in [1, 64]"),
    ("dim_head", "10000000", "dim_head must be an integer in [1, 1024]"),
    ("stft_hop_length", "4096", "stft_hop_length 4096 <= stft_win_length"),
    ("stft_win_length", "4096", "stft_win_length 4096 <= stft_n_fft 2048"),
    ("stft_n_fft", "100000", "stft_n_fft must be an integer in [16, 65536]"),
    ("dim", "4096; depth: 64; time_transformer_depth: 16; freq_transformer_depth: 16; heads: 64; dim_head: 1024",
     "parameters"),
    ("dim", "'" + "9" * 5000 + "'", "dim must be an integer"),
    ("dim", "99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
     "dim must be an integer"),
    ("dim", "9" * 6000, "invalid YAML"),  # past Python's 4300-digit limit for integers read from text
])
def test_a_model_block_out_of_bounds_is_one_short_line(tmp_path, corpus, key, value, expected):
    result = separate(corpus, tmp_path / "out", edited(tmp_path, key, value))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1, result.output
    assert expected in result.output and len(result.output) < 600, result.output[:600]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key, value, expected", [
    ("chunk_size", "1099511627776", "chunk_size must be an integer in [1, 4194304]"),
    ("chunk_size", "1024", "chunk_size 1024 is shorter than one STFT frame"),
    ("sample_rate", "10", "sample_rate must be an integer in [1000, 768000]"),
])
def test_audio_and_inference_values_out_of_bounds_are_refused(tmp_path, corpus, key, value, expected):
    config = edited(tmp_path, key, value, block="audio")
    result = separate(corpus, tmp_path / "out", config)
    assert result.exit_code == 2 and expected in result.output, result.output[:600]
    assert not (tmp_path / "out").exists()


def test_an_alias_bomb_is_refused_quickly_and_never_printed_whole(tmp_path, corpus):
    config = tmp_path / "bomb.yaml"
    config.write_text(BOMB + YAML.replace("model:\n  dim: 32\n", "model:\n  dim: *l9\n"),
                      encoding="utf-8")
    started = time.monotonic()
    result = separate(corpus, tmp_path / "out", config)
    assert result.exit_code == 2, result.output[:600]
    assert "dim must be an integer" in result.output and len(result.output) < 600, result.output[:600]
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["100000", "65", "0"])
def test_batch_size_is_bounded(tmp_path, corpus, value):
    result = separate(corpus, tmp_path / "out", FIXTURES / "bs_roformer.yaml", "--batch-size", value)
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()


def test_the_dtype_is_part_of_the_step_record_with_the_version(tmp_path, corpus):
    out = tmp_path / "out"
    assert separate(corpus, out, FIXTURES / "bs_roformer.yaml", "--dtype", "bfloat16").exit_code == 0
    record = json.loads((out / ".svcprep" / "vocals" / "meta.json").read_text(encoding="utf-8"))
    assert record["settings"]["precision"] == "bfloat16" and record["svcprep_version"]
    again = separate(corpus, out, FIXTURES / "bs_roformer.yaml", "--dtype", "float32")
    assert again.exit_code == 2 and "precision: 'bfloat16' -> 'float32'" in again.output, again.output


def test_a_run_config_or_preset_with_an_integer_past_pythons_digit_limit_is_one_line(tmp_path, corpus):
    config = tmp_path / "huge.yaml"
    config.write_text("recipe: rvc\nsample_rate: " + "9" * 6000 + "\n", encoding="utf-8")
    result = cli("run", "-c", config, "--corpus", corpus, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "invalid YAML" in result.output and len(result.output) < 600, result.output[:600]
    preset = tmp_path / "preset.yaml"
    preset.write_text("sample_rate: " + "9" * 6000 + "\n", encoding="utf-8")
    result = cli("mel", corpus, "--out", tmp_path / "m", "--preset", preset)
    assert result.exit_code == 2 and "invalid YAML" in result.output and len(result.output) < 600, result.output[:600]
    assert not (tmp_path / "o").exists() and not (tmp_path / "m").exists()
