"""A separator's network from its YAML and ``.ckpt``: built by svcprep's modules, weights read through the
restricted unpickler, loaded strictly (a checkpoint that does not fit its config is named by its first
mismatching key)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from svcprep.errors import CheckpointError, ModelNotAvailableError
from svcprep.extractors.checkpoint_io import load_untrusted_checkpoint
from svcprep.separation.msst_config import SeparatorConfig
from svcprep.separation.roformer import BSRoformer, MelBandRoformer, Roformer

WRAPPER_KEYS = ("state_dict", "state", "model")  # training checkpoints that wrap the weights


def build_network(config: SeparatorConfig) -> Roformer:
    if config.architecture == "bs_roformer":
        return BSRoformer(config.shape, config.freqs_per_bands)
    return MelBandRoformer(config.shape, config.num_bands, config.mel_sample_rate)


def state_dict_of(loaded: Any, path: Path) -> dict[str, torch.Tensor]:
    """The weights of a loaded ``.ckpt``: a plain state dict, or one under ``state_dict`` / ``state`` / ``model``;
    a ``module.`` prefix (saved from a DataParallel wrapper) is dropped."""
    for _ in range(2):
        if isinstance(loaded, dict) and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
            inner = next((loaded[k] for k in WRAPPER_KEYS if isinstance(loaded.get(k), dict)), None)
            if inner is not None:
                loaded = inner
    if not isinstance(loaded, dict) or not loaded:
        raise CheckpointError(f"{path}: not a separator checkpoint (expected a state dict of tensors)")
    weights = {}
    for key, value in loaded.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        weights[key.removeprefix("module.")] = value
    return weights


def load_weights(network: Roformer, weights: dict[str, torch.Tensor], path: Path, config_path: Path) -> None:
    """Strict: every key of the network, each with its shape, and nothing else."""
    expected = network.state_dict()
    for key, tensor in expected.items():
        if key not in weights:
            raise CheckpointError(f"{path} does not fit {config_path}: key {key} is missing (a checkpoint of "
                                  "another architecture or size; use the YAML published with it)")
        if tuple(weights[key].shape) != tuple(tensor.shape):
            raise CheckpointError(f"{path} does not fit {config_path}: {key} has shape "
                                  f"{tuple(weights[key].shape)}, the config builds {tuple(tensor.shape)}")
    unexpected = sorted(set(weights) - set(expected))
    if unexpected:
        raise CheckpointError(f"{path} does not fit {config_path}: unexpected key {unexpected[0]} "
                              f"({len(unexpected)} in all; the config builds a smaller model)")
    if not all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point()):
        raise CheckpointError(f"{path}: NaN or infinite weights")
    network.load_state_dict(weights, strict=True)


def load_network(checkpoint: Path, config: SeparatorConfig, config_path: Path) -> Roformer:
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise ModelNotAvailableError(f"{checkpoint}: no such checkpoint file")
    network = build_network(config)
    load_weights(network, state_dict_of(load_untrusted_checkpoint(checkpoint), checkpoint), checkpoint, config_path)
    return network.eval()
