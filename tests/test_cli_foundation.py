import json
import subprocess
import sys

import numpy as np
from typer.testing import CliRunner

from svcprep.cli.main import app

runner = CliRunner()


def test_hops_json_whisper_against_amphion_preset():
    result = runner.invoke(app, ["hops", "-e", "whisper", "-p", "amphion-svc-24k", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == {
        "extractor": "whisper", "source_sample_rate": 16000, "source_hop": 320, "source_frame_rate": 50.0,
        "target_sample_rate": 24000, "target_hop": 256, "target_frame_rate": 93.75,
        "source_hop_in_target_samples": 480.0, "ratio": "15/8",
    }


def test_hops_human_explains_encodec():
    result = runner.invoke(app, ["hops", "-e", "encodec_24khz", "--mel-sample-rate", "24000", "--mel-hop", "256"])
    assert result.exit_code == 0
    assert "strides 8·5·4·2 = 320 samples → 75 Hz" in result.output
    assert "ratio 320:256 = 5:4" in result.output


def test_hops_custom_model_speechtokenizer():
    result = runner.invoke(app, ["hops", "--source-hop", "320", "--source-sample-rate", "16000",
                                 "-p", "vevo-24k", "--json"])
    data = json.loads(result.output)
    assert data["ratio"] == "1/1" and data["source_hop_in_target_samples"] == 480.0


def test_hops_usage_errors_exit_2_with_the_fix_named():
    cases = {"give --extractor NAME, or both --source-hop and --source-sample-rate": ["-p", "amphion-svc-24k"],
             "unknown preset 'no-such-preset'; built-in: amphion-svc-24k": ["-e", "whisper", "-p", "no-such-preset"],
             "give --preset NAME, or both --mel-sample-rate and --mel-hop": ["-e", "whisper"]}
    assert len(cases) == 3
    for expected, args in cases.items():
        result = runner.invoke(app, ["hops", *args])
        assert result.exit_code == 2 and expected in result.output, (args, result.output)


def make_dirs(tmp_path):
    feats, mels = tmp_path / "feats", tmp_path / "mels"
    rng = np.random.default_rng(0)
    # 2 s at 24 kHz: 187 mel frames; Whisper gives 100 frames at 50 Hz.
    for uid in ["a", "spk1/b"]:
        (feats / uid).parent.mkdir(parents=True, exist_ok=True)
        (mels / uid).parent.mkdir(parents=True, exist_ok=True)
        np.save(feats / f"{uid}.npy", rng.standard_normal((100, 8)).astype(np.float32))
        np.save(mels / f"{uid}.npy", np.zeros((100, 187), np.float32))
    np.save(feats / "bad.npy", rng.standard_normal((20, 8)).astype(np.float32))  # far too short
    np.save(mels / "bad.npy", np.zeros((100, 187), np.float32))
    (feats / "nomel.npy").write_bytes(np.zeros(1).tobytes())
    return feats, mels


def test_align_command_resumes_and_reports_failures(tmp_path):
    feats, mels = make_dirs(tmp_path)
    out = tmp_path / "out"
    args = ["align", "--features", str(feats), "--mels", str(mels), "--out", str(out), "-e", "whisper",
            "-p", "amphion-svc-24k"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert np.load(out / "a.npy").shape == (187, 8)
    assert np.load(out / "spk1" / "b.npy").shape == (187, 8)
    assert not (out / "bad.npy").exists()
    failures = [json.loads(line) for line in (out / "_failures.jsonl").read_text().splitlines()]
    assert {f["uid"] for f in failures} == {"bad", "nomel"}
    assert all(f["stage"] == "align" and f["reason"] for f in failures)
    assert "short" in next(f["reason"] for f in failures if f["uid"] == "bad")
    again = runner.invoke(app, args)
    assert "skipped 2" in again.output
    assert not list(out.rglob("*.tmp"))


def test_align_subprocess_all_good_exits_0(tmp_path):
    feats, mels = make_dirs(tmp_path)
    (feats / "bad.npy").unlink()
    (feats / "nomel.npy").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "svcprep", "align", "--features", str(feats), "--mels", str(mels), "--out",
         str(tmp_path / "o"), "--source-hop", "320", "--source-sample-rate", "16000", "--mel-sample-rate", "24000",
         "--mel-hop", "256", "--method", "nearest"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "done 2" in proc.stdout


def test_help_lists_every_recipe():
    from svcprep.recipes import RECIPES, builtin_configs

    run_help = " ".join(CliRunner().invoke(app, ["run", "--help"], terminal_width=400).output.split())
    report_help = " ".join(CliRunner().invoke(app, ["report", "--help"], terminal_width=400).output.split())
    assert len(RECIPES) >= 7 and len(builtin_configs()) >= 6
    for name in RECIPES:
        assert name in run_help, name
        assert name == "pieces" or name in report_help, name
    for name in builtin_configs():
        assert name in run_help, name


def test_a_run_needing_fcpe_without_its_weights_names_the_one_command(tmp_path, monkeypatch, content_model):
    import numpy as np
    import soundfile as sf

    import svcprep.pitch.fcpe

    monkeypatch.setattr(svcprep.pitch.fcpe, "bundled_checkpoint", lambda: None)  # a wheel install without torchfcpe
    (tmp_path / "takes").mkdir()
    sf.write(tmp_path / "takes" / "t.wav", np.zeros(44100, np.float32), 44100)
    result = CliRunner().invoke(app, ["run", "-c", "rvc", "--corpus", str(tmp_path / "takes"), "--out",
                                      str(tmp_path / "out"), "--model", f"contentvec={content_model}", "--set",
                                      "contentvec.layer=2", "--device", "cpu"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "pip install --no-deps torchfcpe==0.0.4" in result.output
    assert not (tmp_path / "out").exists()
