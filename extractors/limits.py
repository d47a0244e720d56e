"""Bounds on every size a model config may state, checked before anything is built from it.

A config is data from the checkpoint's author: a value such as ``encoder_layers: 1e9``, ``feature_size: 1e7``
or a conv stride of 0 would otherwise build a model that exhausts memory, divide by zero, or record a negative
hop. Real models sit far inside these bounds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from svcprep.errors import CheckpointError, ConfigError

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
# Parameters a model may have: the largest models svcprep runs (Whisper large's encoder, MERT-330M) have well
# under a billion. Checked on what a config would build and on what a checkpoint holds, before anything is built.
MAX_PARAMETERS = 2_000_000_000


def transformer_parameters(config: Mapping[str, Any]) -> int:
    """About how many parameters the encoder layers a config describes hold (attention 4·h², feed-forward
    2·h·ffn per layer): enough to refuse a config that would build an absurd model."""
    layers = config.get("num_hidden_layers") or config.get("encoder_layers") or 0
    width = config.get("hidden_size") or config.get("d_model") or 0
    ffn = config.get("intermediate_size") or config.get("encoder_ffn_dim") or 0
    return int(layers) * (4 * int(width) ** 2 + 2 * int(width) * int(ffn))


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
    parameters = transformer_parameters(config)
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"{source}: the config describes a model of about {parameters:.3g} parameters (more than "
                          f"{MAX_PARAMETERS:.0e}); the file is damaged or not a model config")
    for width, heads in (("hidden_size", "num_attention_heads"), ("d_model", "encoder_attention_heads")):
        if config.get(width) and config.get(heads) and config[width] % config[heads]:
            raise ConfigError(f"{source}: config {width} {config[width]} is not divisible by {heads} {config[heads]}")


@contextmanager
def building(path: Any) -> Iterator[None]:
    """A model that cannot be allocated is a checkpoint error naming the file (one line, exit 2), not a crash."""
    try:
        yield
    except MemoryError as exc:
        raise CheckpointError(f"{path}: the model it describes does not fit in memory; the file is damaged or not "
                              "a model of this kind") from exc
    except RuntimeError as exc:
        if "alloc" not in str(exc).lower() and "out of memory" not in str(exc).lower():
            raise
        raise CheckpointError(f"{path}: the model it describes cannot be allocated ({str(exc)[:80]}): the file is "
                              "damaged, not a model of this kind, or too large for this device") from exc
