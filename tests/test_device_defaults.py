"""Batching that fits the device, out-of-memory recovery, a wrong frame rule stopping the run, --profile."""

import re

import numpy as np
import pytest
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo.synthetic import SyntheticFile, write_corpus
from svcprep.pipeline.runner import Pipeline
from svcprep.recipes.settings import ExtractorConfig
from tests.conftest import amphion_config

FILES = tuple(SyntheticFile(f"s/{i}.wav", 0.6 + 0.2 * i, 16000, 1) for i in range(5))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("defaults")
    write_corpus(root, FILES)
    return root


def config(corpus, out, model, **extra):
    return amphion_config(corpus, out, mels=False, extractors=(ExtractorConfig("hubert", str(model)),),
                          device="cpu", **extra)


def test_cpu_defaults_run_one_file_per_call_in_process(corpus, tmp_path, tiny_models_by_name):
    pipeline = Pipeline(config(corpus, tmp_path / "out", tiny_models_by_name["hubert"][0]))
    assert pipeline.run().done == len(FILES)
    assert pipeline.batching == (0.0, 0)
    explicit = Pipeline(config(corpus, tmp_path / "out2", tiny_models_by_name["hubert"][0], batch_seconds=7.0,
                               num_workers=1))
    explicit.run()
    assert explicit.batching == (7.0, 1)


def test_out_of_memory_batches_are_split_not_failed(corpus, tmp_path, tiny_models_by_name, monkeypatch):
    import torch

    from svcprep.extractors.base import BatchExtractor

    real_extract = BatchExtractor.extract
    sizes = []

    def tight_memory(self, waveforms):
        sizes.append(len(waveforms))
        if len(waveforms) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_extract(self, waveforms)

    monkeypatch.setattr(BatchExtractor, "extract", tight_memory)
    summary = Pipeline(config(corpus, tmp_path / "out", tiny_models_by_name["hubert"][0],
                              batch_seconds=100.0)).run()
    assert summary.done == len(FILES) and summary.failed == 0
    assert sizes[0] == len(FILES) and sizes.count(1) == len(FILES)  # halved down to single files
    unsplit = tmp_path / "unsplit"
    monkeypatch.setattr(BatchExtractor, "extract", real_extract)
    Pipeline(config(corpus, unsplit, tiny_models_by_name["hubert"][0], batch_seconds=0.0)).run()
    for path in (unsplit / "hubert").rglob("*.npy"):
        np.testing.assert_allclose(np.load(tmp_path / "out" / "hubert" / path.relative_to(unsplit / "hubert")),
                                   np.load(path), atol=1e-5)


def test_a_model_off_its_frame_rule_stops_the_run(corpus, tmp_path, tiny_models_by_name, monkeypatch):
    from svcprep.errors import FrameCountError
    from svcprep.extractors.base import BatchExtractor

    def one_frame_short(self, waveforms):
        raise FrameCountError("hubert: clip 0 of 9600 samples gave 29 frames, spec predicts 30")

    monkeypatch.setattr(BatchExtractor, "extract", one_frame_short)
    with pytest.raises(FrameCountError):
        Pipeline(config(corpus, tmp_path / "out", tiny_models_by_name["hubert"][0])).run()
    assert not list((tmp_path / "out").rglob("*.npy"))


def test_profile_names_every_stage(corpus, tmp_path, tiny_models_by_name):
    result = CliRunner().invoke(app, ["extract", str(corpus), "--out", str(tmp_path / "o"), "-e", "hubert",
                                      "--model", f"hubert={tiny_models_by_name['hubert'][0]}", "--profile"])
    assert result.exit_code == 0, result.output
    for stage in ("scan", "model load", "waiting for input", "model", "align", "write", "decode", "resample"):
        assert f"profile: {stage} " in result.output
    model_seconds = re.search(r"^profile: model\s+([\d.]+) s", result.output, re.M)
    assert model_seconds and float(model_seconds.group(1)) > 0
