"""A model file cannot make svcprep build a model far larger than the file: every tensor must be held by its
storage's bytes, the tensors together by the file's storages, and a config may not describe an absurd model.
Each hostile file is small; each is refused in one line before anything is built (exit 2, nothing written)."""

import json
import shutil

import torch
from typer.testing import CliRunner

from svcprep.cli.main import app
from svcprep.demo import tiny_models
from svcprep.demo.synthetic import write_corpus

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_an_expanded_tensor_in_an_rmvpe_checkpoint_is_refused(tmp_path):
    write_corpus(tmp_path / "c")
    real = tiny_models.save_rmvpe(tmp_path / "real.pt")
    state = torch.load(real, weights_only=True)
    key = "unet.encoder.layers.0.conv.0.conv.0.weight"
    channels_in, kernel = state[key].shape[1], state[key].shape[2:]
    state[key] = torch.zeros(1).expand(2048, channels_in, *kernel)  # 4 bytes viewed as 2048 output channels
    torch.save(state, tmp_path / "rmvpe.pt")
    assert (tmp_path / "rmvpe.pt").stat().st_size < 4 * real.stat().st_size
    result = cli("pitch", tmp_path / "c", "--out", tmp_path / "o", "--method", "rmvpe", "--model",
                 tmp_path / "rmvpe.pt")
    assert result.exit_code == 2 and "expanded or strided storage" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_thousands_of_keys_viewing_one_storage_are_refused(tmp_path):
    from svcprep.errors import CheckpointError
    from svcprep.extractors.checkpoint_io import load_untrusted_checkpoint

    base = torch.zeros(256, 1024)  # 1 MiB, viewed 5,000 times: 5 GiB of "weights" from a 1 MiB file
    torch.save({f"layers.{i}.weight": base[i % 200:] for i in range(5000)}, tmp_path / "views.pt")
    try:
        load_untrusted_checkpoint(tmp_path / "views.pt")
    except CheckpointError as exc:
        assert "many keys view the same storage" in str(exc)
    else:
        raise AssertionError("a checkpoint of 5,000 views of one storage was accepted")
    torch.save({"a": base, "tied": base}, tmp_path / "tied.pt")  # one weight tied once is a real checkpoint
    assert set(load_untrusted_checkpoint(tmp_path / "tied.pt")) == {"a", "tied"}


def test_a_config_describing_an_absurd_model_is_refused_before_it_is_built(tmp_path, tiny_models_by_name):
    model = tmp_path / "model"
    shutil.copytree(tiny_models_by_name["hubert"][0], model)
    config = json.loads((model / "config.json").read_text())
    # every value passes its own bound; together they describe ~17 G parameters
    config.update(num_hidden_layers=256, hidden_size=1024, intermediate_size=131072, num_attention_heads=16)
    (model / "config.json").write_text(json.dumps(config))
    result = cli("hops", "-e", "hubert", "--model", model, "-p", "amphion-svc-24k")
    assert result.exit_code == 2 and "describes a model of about" in result.output, result.output
