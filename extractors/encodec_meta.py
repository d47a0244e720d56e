"""Meta's original Encodec ``.th`` checkpoints mapped onto transformers' ``EncodecModel`` (no encodec package).

A ``.th`` file is a plain state dict; the architecture is read back from tensor shapes (channels, filters,
strides from the downsampling kernels, LSTM depth, codebooks). transformers derives the RVQ depth from
the config and can get it wrong for checkpoints trained with another ``n_q``, so the RVQ is sized from
the ``quantizer.vq.layers.N`` keys.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from svcprep.errors import CheckpointError
from svcprep.extractors.checkpoint_io import load_state_dict_file
from svcprep.extractors.metadata import count_rvq_layers

_RENAMES = [
    (r"^encoder\.model\.", "encoder.layers."),
    (r"^decoder\.model\.", "decoder.layers."),
    (r"\.conv\.conv\.", ".conv."),
    (r"\.convtr\.convtr\.", ".conv."),
    (r"\.(conv|convtr)\.norm\.", ".norm."),
    (r"\.weight_g$", ".parametrizations.weight.original0"),
    (r"\.weight_v$", ".parametrizations.weight.original1"),
    (r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook."),
]
PUBLISHED_BANDWIDTHS = {1: [1.5, 3.0, 6.0, 12.0, 24.0], 2: [3.0, 6.0, 12.0, 24.0]}


def rename_meta_key(key: str) -> str:
    for pattern, replacement in _RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def _conv_weight(state: dict[str, torch.Tensor], prefix: str) -> torch.Tensor | None:
    for suffix in (".conv.conv.weight_v", ".conv.conv.weight"):
        if prefix + suffix in state:
            return state[prefix + suffix]
    return None


def config_from_meta_state(state: dict[str, torch.Tensor], path: Path, sample_rate: int | None, bandwidth: float):
    """EncodecConfig from a Meta state dict's tensor shapes."""
    from transformers import EncodecConfig

    top = sorted({int(m.group(1)) for k in state if (m := re.match(r"^encoder\.model\.(\d+)\.conv\.conv\.", k))})
    if len(top) < 3:
        raise CheckpointError(f"{path}: not an Encodec state dict (no encoder.model.N.conv.conv tensors)")
    first, last = _conv_weight(state, f"encoder.model.{top[0]}"), _conv_weight(state, f"encoder.model.{top[-1]}")
    down = [_conv_weight(state, f"encoder.model.{i}") for i in top[1:-1]]
    strides = [w.shape[-1] // 2 for w in down]  # SEANet downsampling kernels are 2 * stride
    channels = int(first.shape[1])
    lstm_layers = len({k for k in state if re.match(r"^encoder\.model\.\d+\.lstm\.weight_ih_l\d+$", k)})
    num_q = count_rvq_layers(state)
    if num_q == 0:
        raise CheckpointError(f"{path}: no quantizer.vq.layers.N tensors")
    embed = state["quantizer.vq.layers.0._codebook.embed"]
    weight_norm = any(k.endswith("weight_g") for k in state)
    stereo = channels == 2
    bandwidths = sorted(set(PUBLISHED_BANDWIDTHS[2 if stereo else 1]) | {float(bandwidth)})
    config = EncodecConfig(
        num_filters=int(first.shape[0]),
        hidden_size=int(last.shape[0]),
        upsampling_ratios=list(reversed(strides)),
        norm_type="weight_norm" if weight_norm else "time_group_norm",
        use_causal_conv=not stereo,
        normalize=stereo,
        chunk_length_s=1.0 if stereo else None,
        overlap=0.01 if stereo else None,
        audio_channels=channels,
        codebook_size=int(embed.shape[0]),
        codebook_dim=int(embed.shape[1]),
        num_lstm_layers=lstm_layers,
        use_conv_shortcut=any(".shortcut." in k for k in state),
        sampling_rate=sample_rate or (48000 if stereo else 24000),
        target_bandwidths=bandwidths,
    )
    return config, num_q


def size_rvq(model, num_layers: int) -> None:
    """Keep the first ``num_layers`` RVQ layers (the checkpoint's real depth)."""
    if num_layers and num_layers < len(model.quantizer.layers):
        model.quantizer.layers = model.quantizer.layers[:num_layers]
    model.quantizer.num_quantizers = len(model.quantizer.layers)


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    state = load_state_dict_file(path)
    if isinstance(state, dict) and "best_state" in state:  # Meta's training checkpoints wrap the weights
        state = state["best_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors")
    return state


def read_meta_config(path: Path) -> dict:
    """The transformers-style config dict of a Meta ``.th`` (from its tensor shapes), plus its RVQ depth."""
    config, num_q = config_from_meta_state(_read_state(path), path, None, 6.0)
    return {**config.to_dict(), "num_quantizer_layers": num_q}


def load_meta_encodec(path: Path, sample_rate: int, bandwidth: float):
    from transformers import EncodecModel

    state = _read_state(path)
    config, num_q = config_from_meta_state(state, path, sample_rate, bandwidth)
    model = EncodecModel(config)
    size_rvq(model, num_q)
    mapped = {rename_meta_key(k): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: does not match the inferred Encodec architecture: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    return model.eval()
