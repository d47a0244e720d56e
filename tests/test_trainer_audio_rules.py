"""Each trainer's audio by its own rules: a slicing step decides where a take is cut, and each recipe's pieces are
the take's own samples over those spans passed through that trainer's rules alone. RVC's 48 Hz high-pass and
40 kHz rate stay RVC's: so-vits-svc's wavs from a run with RVC keep a 21 kHz tone and a 30 Hz hum the take
carries (so-vits-svc's resample.py filters neither), and each recipe's files are the same alone and in a joint
run with the same stage settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import known_pitch_clip

RATE, TONE_HZ, HUM_HZ = 44100, 21000.0, 30.0
SLICE = {"preset": "rvc", "sample_rate": 40000}  # RVC's slicing at RVC's rate, said once for every tree


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def amplitude(x: np.ndarray, rate: int, hz: float) -> float:
    """Least-squares amplitude of a sinusoid at ``hz`` in ``x`` (its phase free)."""
    t = np.arange(len(x)) / rate
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, x.astype(np.float64), rcond=None)
    return float(np.hypot(*coefficients))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    root = tmp_path_factory.mktemp("rules") / "takes"
    (root / "alice").mkdir(parents=True)
    t = np.arange(int(12.0 * RATE)) / RATE
    voice = 0.5 * known_pitch_clip(RATE, 12.0, ((4.0, 4.6), (8.0, 8.5)), seed=3)
    x = voice + 0.05 * np.sin(2 * np.pi * TONE_HZ * t) + 0.05 * np.sin(2 * np.pi * HUM_HZ * t)
    sf.write(root / "alice" / "take.wav", x.astype(np.float32), RATE, subtype="FLOAT")
    return root, x.astype(np.float32)


def config(directory: Path, recipe: str) -> Path:
    path = directory / f"{recipe}.yaml"
    path.write_text(json.dumps({"recipe": recipe, "slice": SLICE}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, take, content_model):
    corpus, _ = take
    root = tmp_path_factory.mktemp("rules_runs")
    common = ("--corpus", corpus, "--model", f"contentvec={content_model}", "--set", "contentvec.layer=2",
              "--device", "cpu")
    rvc, sovits = config(root, "rvc"), config(root, "so-vits-svc")
    for args, out in (((rvc, sovits), root / "joint"), ((rvc,), root / "rvc"), ((sovits,), root / "sovits")):
        result = cli("run", *[a for c in args for a in ("-c", c)], "--out", out, *common)
        assert result.exit_code == 0, result.output
    return root


def tree_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes().replace(str(out).encode(), b"<OUT>")
            for p in sorted(out.rglob("*")) if p.is_file() and ".svcprep" not in p.relative_to(out).parts}


def test_so_vits_svc_wavs_keep_what_rvcs_rules_would_filter(runs, take):
    _, source = take
    wavs = sorted((runs / "joint" / "so-vits-svc" / "dataset" / "44k").rglob("*.wav"))
    assert len(wavs) >= 3
    source_tone, source_hum = (amplitude(source, RATE, hz) / rms(source) for hz in (TONE_HZ, HUM_HZ))
    for path in wavs:
        wav, rate = sf.read(path, dtype="float32")
        assert rate == RATE
        tone, hum = amplitude(wav, rate, TONE_HZ) / rms(wav), amplitude(wav, rate, HUM_HZ) / rms(wav)
        # the same share of the signal as in the take (within 3 dB: a piece's own voice level varies)
        assert abs(20 * np.log10(tone / source_tone)) < 3.0, (path.name, tone, source_tone)
        assert abs(20 * np.log10(hum / source_hum)) < 3.0, (path.name, hum, source_hum)


def test_rvc_pieces_still_pass_through_rvcs_high_pass_and_rate(runs, take):
    _, source = take
    source_hum = amplitude(source, RATE, HUM_HZ) / rms(source)
    wavs = sorted((runs / "joint" / "rvc" / "0_gt_wavs").glob("*.wav"))
    assert len(wavs) >= 3
    for path in wavs:
        wav, rate = sf.read(path, dtype="float32")
        assert rate == 40000  # no 21 kHz content can be there
        # its 5th-order Butterworth at 48 Hz takes about 20 dB off 30 Hz
        assert 20 * np.log10(amplitude(wav, rate, HUM_HZ) / rms(wav) / source_hum) < -15.0, path.name


@pytest.mark.parametrize("recipe, alone", [("so-vits-svc", "sovits"), ("rvc", "rvc")])
def test_a_recipes_files_are_the_same_alone_and_in_a_joint_run(runs, recipe, alone):
    joint, single = tree_files(runs / "joint" / recipe), tree_files(runs / alone)
    assert joint and joint == single


def test_slicing_whose_rate_would_come_from_another_recipe_is_refused(tmp_path, take, content_model):
    corpus, _ = take
    sovits = tmp_path / "sovits.yaml"
    sovits.write_text(json.dumps({"recipe": "so-vits-svc", "slice": "rvc"}), encoding="utf-8")
    rvc = tmp_path / "rvc.yaml"
    rvc.write_text(json.dumps({"recipe": "rvc", "slice": "rvc"}), encoding="utf-8")
    result = cli("run", "-c", rvc, "-c", sovits, "--corpus", corpus, "--out", tmp_path / "o", "--model",
                 f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu")
    assert result.exit_code == 2 and "slice.sample_rate" in result.output, result.output
    assert not (tmp_path / "o").exists()
