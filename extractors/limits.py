"""Bounds on every size a model config may state, checked before anything is built from it.

A config is data from the checkpoint's author: a value such as ``encoder_layers: 1e9``, ``feature_size: 1e7``
or a conv stride of 0 would otherwise build a model that exhausts memory, divide by zero, or record a negative
hop. Real models sit far inside these bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from svcprep.errors import ConfigError

INTEGER_LIMITS = {
    "num_hidden_layers": (1, 256), "encoder_layers": (1, 256), "decoder_layers": (0, 256),
    "hidden_size": (1, 16384), "d_model": (1, 16384), "intermediate_size": (1, 131072),
    "encoder_ffn_dim": (1, 131072), "decoder_ffn_dim": (1, 131072),
    "num_attention_heads": (1, 256), "encoder_attention_heads": (1, 256), "decoder_attention_heads": (1, 256),
    "feature_size": (1, 1024), "num_mel_bins": (1, 1024), "n_fft": (16, 65536), "hop_length": (1, 65536),
    "sampling_rate": (1000, 768000), "sample_rate": (1000, 768000), "max_source_positions": (1, 1_000_000),
    "num_conv_pos_embeddings": (1, 4096), "num_conv_pos_embedding_groups": (1, 4096),
    "codebook_size": (1, 1 << 20), "codebook_dim": (1, 16384), "num_filters": (1, 16384),
    "num_lstm_layers": (0, 64), "num_residual_layers": (0, 64), "proj_dim": (1, 16384),
    "classifier_proj_size": (1, 16384),
}
LIST_LIMITS = {"conv_kernel": (1, 4096), "conv_stride": (1, 4096), "conv_dim": (1, 16384),
               "upsampling_ratios": (1, 4096)}
MAX_LIST_LENGTH = 64


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_config_limits(config: Mapping[str, Any], source: str) -> None:
    """Raise a :class:`ConfigError` naming ``source`` and the key for any size out of bounds or of the wrong type."""
    for key, (low, high) in INTEGER_LIMITS.items():
        value = config.get(key)
        if value is None:
            continue
        if not _integer(value) or not low <= value <= high:
            raise ConfigError(f"{source}: config {key} = {value!r} is not an integer in [{low}, {high}]; "
                              "the file is damaged or not a model config")
    for key, (low, high) in LIST_LIMITS.items():
        values = config.get(key)
        if values is None:
            continue
        if not isinstance(values, list | tuple) or not 0 < len(values) <= MAX_LIST_LENGTH or not all(
                _integer(v) and low <= v <= high for v in values):
            raise ConfigError(f"{source}: config {key} = {values!r} must be 1..{MAX_LIST_LENGTH} integers in "
                              f"[{low}, {high}]")
    for width, heads in (("hidden_size", "num_attention_heads"), ("d_model", "encoder_attention_heads")):
        if config.get(width) and config.get(heads) and config[width] % config[heads]:
            raise ConfigError(f"{source}: config {width} {config[width]} is not divisible by {heads} {config[heads]}")
