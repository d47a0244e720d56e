"""verify and report say what is wrong instead of crashing: a deleted or damaged file of a tree is a finding naming
it; a stray piece is flagged; stems of a song gone leave verify clean; report thresholds, --out and --workers are
checked before any audio is read; surround files are measured (BS.1770-4's weights) and separated with their
centre channel (BS.775's downmix); a separation's output dir can be reported."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import known_pitch_clip, sing

FIXTURES = Path(__file__).parent / "fixtures" / "roformer_msst"
BS = FIXTURES / "bs_roformer.ckpt"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def takes(tmp_path_factory):
    root = tmp_path_factory.mktemp("findings") / "takes"
    for uid, seed in (("alice/t1", 1), ("alice/t2", 2), ("bob/t3", 3)):
        (root / uid).parent.mkdir(parents=True, exist_ok=True)
        wav = known_pitch_clip(44100, 5.0, ((2.0, 2.5),), seed=seed) if seed != 3 else np.concatenate(
            [np.zeros(4410, np.float32), sing(1.5, 44100, seed=seed), np.zeros(4410, np.float32)])
        sf.write(root / f"{uid}.wav", 0.6 * wav, 44100)
    return root


@pytest.fixture(scope="module")
def trees(tmp_path_factory, takes, content_model):
    root = tmp_path_factory.mktemp("trees")
    for recipe in ("rvc", "applio", "so-vits-svc", "so-vits-svc-fork"):
        result = cli("run", "-c", recipe, "--corpus", takes, "--out", root / recipe, "--model",
                     f"contentvec={content_model}", "--set", "contentvec.layer=2", "--device", "cpu")
        assert result.exit_code == 0, (recipe, result.output)
    return root


def damaged_copy(trees: Path, recipe: str, tmp_path: Path) -> Path:
    copy = tmp_path / recipe
    shutil.copytree(trees / recipe, copy)
    assert cli("verify", copy).exit_code == 0
    return copy


@pytest.mark.parametrize("recipe, folder", [("rvc", "0_gt_wavs"), ("applio", "sliced_audios"),
                                            ("so-vits-svc", "dataset")])
def test_a_deleted_wav_is_a_finding_naming_the_file(trees, tmp_path, recipe, folder):
    tree = damaged_copy(trees, recipe, tmp_path)
    wavs = sorted((tree / folder).rglob("*.wav"))
    assert wavs
    wavs[0].unlink()
    result = cli("verify", tree)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert str(wavs[0].relative_to(tmp_path)) in result.output and "missing" in result.output, result.output


def test_a_truncated_data_pt_is_one_finding_without_hashes(trees, tmp_path):
    tree = damaged_copy(trees, "so-vits-svc-fork", tmp_path)
    data = sorted(tree.rglob("*.wav.data.pt"))
    assert data
    data[0].write_bytes(data[0].read_bytes()[:1000])
    result = cli("verify", tree, "--no-hashes")
    assert result.exit_code == 1 and not result.output.startswith("error"), result.output
    assert f"{data[0].relative_to(tmp_path)}" in result.output and "unreadable" in result.output, result.output


@pytest.mark.parametrize("stray, named", [("9_9_0.wav", "sliced_audios/9_9_0.wav: a file no entry owns"),
                                           ("extra.wav", "sliced_audios/extra.wav: a file no entry owns"),
                                           ("0_0_7.wav", "alice/t1/00007: file present but not finished")])
def test_a_stray_piece_in_an_applio_tree_is_flagged(trees, tmp_path, stray, named):
    tree = damaged_copy(trees, "applio", tmp_path)
    pieces = sorted((tree / "sliced_audios").glob("*.wav"))
    assert pieces
    shutil.copy(pieces[0], tree / "sliced_audios" / stray)
    result = cli("verify", tree)
    assert result.exit_code == 1 and named in result.output, result.output


def song_corpus(root: Path, names: tuple[str, ...]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        voice = known_pitch_clip(44100, 1.5, (), seed=index)
        sf.write(root / f"{name}.wav", np.stack([voice, 0.8 * voice], axis=1), 44100, subtype="FLOAT")
    return root


def test_stems_of_a_song_gone_leave_verify_clean(tmp_path):
    corpus = song_corpus(tmp_path / "songs", ("a", "b"))
    out = tmp_path / "stems"
    assert cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--device", "cpu").exit_code == 0
    (corpus / "b.wav").unlink()
    result = cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--device", "cpu")
    assert result.exit_code == 0 and "removed 1 stem file" in result.output, result.output
    verified = cli("verify", out)
    assert verified.exit_code == 0, verified.output


def test_report_on_a_separation_output_dir(tmp_path):
    corpus = song_corpus(tmp_path / "songs", ("a", "b"))
    out = tmp_path / "stems"
    assert cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--also", "vocals=residual",
               "--device", "cpu").exit_code == 0
    result = cli("report", out, "--out", tmp_path / "report", "--no-pitch", "--workers", "0")
    assert result.exit_code in (0, 1), result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert sorted(c["uid"] for c in report["clips"]) == ["vocals/residual/a", "vocals/residual/b",
                                                         "vocals/vocals/a", "vocals/vocals/b"]
    assert report["source"]["kind"] == "stems" and not report["failures"]


@pytest.mark.parametrize("assignment", ["min_snr_db=nan", "clip_level=inf", "max_clipped_fraction=-0.1",
                                        "max_silence_fraction=2", "silence_dbfs=10", "max_seconds=-1",
                                        "f0_min_hz=0", "min_seconds=9;max_seconds=3"])
def test_report_thresholds_out_of_range_are_refused_before_any_audio_is_read(tmp_path, takes, assignment,
                                                                              monkeypatch):
    import svcprep.report.run

    def never(*args, **kwargs):
        raise AssertionError("audio was measured")

    monkeypatch.setattr(svcprep.report.run, "measure_all", never)
    sets = [a for pair in assignment.split(";") for a in ("--set", pair)]
    result = cli("report", takes, "--out", tmp_path / "report", *sets)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "report").exists()


def test_an_out_that_cannot_be_written_is_found_before_measuring(tmp_path, takes, monkeypatch):
    import svcprep.report.run

    def never(*args, **kwargs):
        raise AssertionError("audio was measured")

    monkeypatch.setattr(svcprep.report.run, "measure_all", never)
    result = cli("report", takes, "--out", "/proc/svcprep-report/out")  # /proc takes no new file, even from root
    assert result.exit_code == 2 and "cannot write to /proc" in result.output, result.output


def test_report_workers_are_capped_to_the_machine(tmp_path, takes, monkeypatch):
    import svcprep.report.run

    seen = []
    real = svcprep.report.run.measure_all

    def spy(clips, settings, workers, progress):
        seen.append(workers)
        return real(clips, settings, 0, progress)

    monkeypatch.setattr(svcprep.report.run, "measure_all", spy)
    result = cli("report", takes, "--out", tmp_path / "report", "--no-pitch", "--workers", "4096")
    assert result.exit_code in (0, 1), result.output
    assert seen == [min(4096, len(os.sched_getaffinity(0)))]


def surround(voice: np.ndarray) -> np.ndarray:
    """5.1 in WAV's order (L, R, C, LFE, Ls, Rs): the voice in the centre, a loud 40 Hz LFE, quiet surrounds."""
    t = np.arange(len(voice)) / 44100
    lfe = 0.5 * np.sin(2 * np.pi * 40 * t)
    return np.stack([0.05 * voice, 0.04 * voice, voice, lfe, 0.02 * voice, 0.03 * voice], axis=1).astype(np.float32)


def surround_corpus(root: Path, seconds: float, seed: int) -> tuple[Path, np.ndarray]:
    x = surround(known_pitch_clip(44100, seconds, (), seed=seed))
    root.mkdir()
    sf.write(root / "s.wav", x, 44100, subtype="FLOAT")
    return root, x


def test_a_5_1_file_is_measured_with_bs1770s_weights(tmp_path):
    corpus, x = surround_corpus(tmp_path / "six", 3.0, 4)
    result = cli("report", corpus, "--out", tmp_path / "report", "--no-pitch", "--workers", "0")
    assert result.exit_code in (0, 1), result.output
    clip = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))["clips"][0]
    # BS.1770-4 leaves the LFE out: pyloudnorm's five-channel meter (L, R, C, Ls, Rs) on the file without it
    expected = pyloudnorm.Meter(44100).integrated_loudness(np.delete(x, 3, axis=1).astype(np.float64))
    assert clip["lufs"] == pytest.approx(expected, abs=1e-6)


def test_a_5_1_song_is_separated_from_bs775s_stereo_downmix(tmp_path):
    corpus, x = surround_corpus(tmp_path / "six", 2.0, 5)
    out = tmp_path / "stems"
    assert cli("separate", corpus, "--out", out, "--model", f"vocals={BS}", "--also", "vocals=residual",
               "--device", "cpu").exit_code == 0
    vocals, _ = sf.read(out / "vocals" / "vocals" / "s.wav", dtype="float32")
    residual, _ = sf.read(out / "vocals" / "residual" / "s.wav", dtype="float32")
    # ITU-R BS.775: Lo = L + 0.707 C + 0.707 Ls, Ro = R + 0.707 C + 0.707 Rs (LFE out), here scaled to sum 1
    g = np.sqrt(0.5)
    left = (x[:, 0] + g * x[:, 2] + g * x[:, 4]) / (1 + 2 * g)
    right = (x[:, 1] + g * x[:, 2] + g * x[:, 5]) / (1 + 2 * g)
    mix = vocals + residual  # the residual is the mix the separator saw minus its vocals
    np.testing.assert_allclose(mix, np.stack([left, right], axis=1), atol=1e-6)
