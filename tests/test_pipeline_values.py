"""The pipeline's files hold the values of the public pieces run by hand: extractor (with its options) then
alignment with the requested method, per uid, whatever else was in the batch."""

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from svcprep import align_features, load_extractor
from svcprep.cli.main import app
from svcprep.demo.synthetic import SyntheticFile, write_corpus

FILES = tuple(SyntheticFile(f"s/{i}.wav", seconds, 16000, 1) for i, seconds in enumerate((1.3, 2.05, 0.71)))


@pytest.fixture(scope="module")
def corpus_with_mels(tmp_path_factory):
    root = tmp_path_factory.mktemp("values")
    corpus, out = root / "corpus", root / "out"
    write_corpus(corpus, FILES)
    result = CliRunner().invoke(app, ["mel", str(corpus), "--out", str(out), "--num-workers", "0"])
    assert result.exit_code == 0, result.output
    return corpus, out


def by_hand(model_path, corpus, out, uid, method):
    wav, rate = sf.read(corpus / f"{uid}.wav", dtype="float32")
    native = load_extractor("hubert", model=model_path, layer=1).extract([wav])[0]
    mel_frames = np.load(out / "mels" / f"{uid}.npy").shape[1]
    return align_features(native, source_hop=320, source_sample_rate=rate, target_hop=256, target_sample_rate=24000,
                          target_len=mel_frames, method=method)


@pytest.mark.parametrize("method", ["area", "nearest", "linear", "repeat"])
def test_files_equal_extractor_then_alignment(corpus_with_mels, tiny_models_by_name, method):
    corpus, mels_out = corpus_with_mels
    model_path, _ = tiny_models_by_name["hubert"]
    out = mels_out.parent / f"out_{method}"
    (out / "mels").mkdir(parents=True)
    for mel in (mels_out / "mels").rglob("*.npy"):
        target = out / "mels" / mel.relative_to(mels_out / "mels")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(mel.read_bytes())
    result = CliRunner().invoke(app, ["extract", str(corpus), "--out", str(out), "-e", "hubert",
                                      "--model", f"hubert={model_path}", "--set", "hubert.layer=1",
                                      "--method", method, "--num-workers", "0", "--batch-seconds", "10"])
    assert result.exit_code == 0, result.output
    for i in range(len(FILES)):
        uid = f"s/{i}"
        expected = by_hand(model_path, corpus, out, uid, method)
        got = np.load(out / "hubert" / f"{uid}.npy")
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        # The methods really differ on this input, so a pipeline that ignored --method would fail here.
        other = "nearest" if method != "nearest" else "area"
        assert np.abs(by_hand(model_path, corpus, out, uid, other) - expected).max() > 1e-2
