"""`svcprep verify` on a real run's output, clean and with each kind of damage put in by hand; `svcprep plot`."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import SyntheticFile, write_corpus

FILES = tuple(SyntheticFile(f"v/{i}.wav", 0.9 + 0.3 * i, rate, 1) for i, rate in enumerate((16000, 44100, 24000)))


@pytest.fixture(scope="module")
def processed(tmp_path_factory, tiny_models_by_name):
    root = tmp_path_factory.mktemp("verify")
    write_corpus(root / "corpus", FILES)
    (root / "run.yaml").write_text(json.dumps({
        "corpus": str(root / "corpus"), "out": str(root / "out"), "mels": True, "energy": True, "pitch": True,
        "stats": True, "keep_native": True, "extractors": [
            {"name": "hubert", "model": str(tiny_models_by_name["hubert"][0])},
            {"name": "encodec_24khz", "model": str(tiny_models_by_name["encodec_24khz"][0]),
             "feature_name": "encodec"}]}))
    result = CliRunner().invoke(app, ["run", "--config", str(root / "run.yaml")])
    assert result.exit_code == 0, result.output
    return root / "out"


def verify(out, *flags):
    result = CliRunner().invoke(app, ["verify", str(out), "--json", *flags])
    return result.exit_code, json.loads(result.output)


def problems(report):
    return {(o["output"], p["uid"]): p["problem"] for o in report["outputs"] for p in o["problems"]}


def test_a_clean_run_verifies(processed):
    code, report = verify(processed)
    assert code == 0 and report["clean"], problems(report)
    names = {o["output"] for o in report["outputs"]}
    assert {"mels", "hubert", "hubert_native", "encodec", "encodec_native", "pitches", "energys",
            "dataset files"} <= names
    assert all(o["ok"] == o["files"] and o["files"] > 0 for o in report["outputs"])


def damaged(processed, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(processed, out)
    return out


def caught(out, output, uid, by_content):
    """The damage is caught twice: the file's sha256 differs from its done entry, and (without hashes) the
    content check names what is wrong."""
    code, report = verify(out)
    assert code == 1 and "changed since it was written" in problems(report)[(output, uid)]
    code, report = verify(out, "--no-hashes")
    assert code == 1 and by_content in problems(report)[(output, uid)], problems(report)


def test_truncated_file(processed, tmp_path):
    out = damaged(processed, tmp_path)
    path = out / "hubert" / "v/1.npy"
    path.write_bytes(path.read_bytes()[:-100])
    caught(out, "hubert", "v/1", "unreadable")


def test_one_frame_short(processed, tmp_path):
    out = damaged(processed, tmp_path)
    path = out / "encodec" / "v/0.npy"
    np.save(path, np.load(path)[:-1])
    caught(out, "encodec", "v/0", "rows, expected")


def test_nan(processed, tmp_path):
    out = damaged(processed, tmp_path)
    path = out / "energys" / "v/2.npy"
    energy = np.load(path)
    energy[3] = np.nan
    np.save(path, energy)
    caught(out, "energys", "v/2", "NaN")


def test_file_from_another_models_grid(processed, tmp_path):
    """HuBERT's 50 Hz native frames put where Encodec's 75 Hz ones belong cover too few mel frames."""
    out = damaged(processed, tmp_path)
    hubert = np.load(out / "hubert_native" / "v/2.npy")
    width = np.load(out / "encodec_native" / "v/2.npy").shape[1]
    np.save(out / "encodec_native" / "v/2.npy", np.resize(hubert, (hubert.shape[0], width)).astype(np.float32))
    caught(out, "encodec_native", "v/2", "another grid")


def test_missing_uid_and_voicing_disagreement(processed, tmp_path):
    out = damaged(processed, tmp_path)
    (out / "hubert" / "v/0.npy").unlink()
    uv = np.load(out / "uvs" / "v/1.npy")
    np.save(out / "uvs" / "v/1.npy", ~uv)
    code, report = verify(out, "--no-hashes")
    found = problems(report)
    assert code == 1 and "missing" in found[("hubert", "v/0")]
    assert "uvs disagrees" in found[("pitches", "v/1")]


def test_statistics_out_of_date(processed, tmp_path):
    out = damaged(processed, tmp_path)
    mel = np.load(out / "mels" / "v/0.npy")
    np.save(out / "mels" / "v/0.npy", mel - 1.0)
    code, report = verify(out)
    assert code == 1 and "extrema" in problems(report)[("dataset files", "mel_min_max_stats")]


def test_plot_draws_a_non_blank_picture(processed, tmp_path):
    import matplotlib  # noqa: F401  (extra `plot`, installed by `make install`: missing fails, never skips)
    png = tmp_path / "v1.png"
    result = CliRunner().invoke(app, ["plot", str(processed), "v/1", "-o", str(png), "--features", "hubert,encodec"])
    assert result.exit_code == 0, result.output
    from matplotlib.image import imread

    image = imread(png)
    assert png.stat().st_size > 20_000
    height, width = image.shape[:2]
    assert height >= 600 and width >= 800
    assert image[..., :3].std() > 0.1  # not a blank canvas


def test_plot_unknown_uid_is_a_usage_error(processed, tmp_path):
    result = CliRunner().invoke(app, ["plot", str(processed), "nope", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "nope" in result.output
    assert not (tmp_path / "x.png").exists()
