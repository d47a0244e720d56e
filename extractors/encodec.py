"""Encodec family (24 / 32 / 48 kHz): options, frame grid from the model's config, loader (``encodec_model``).

Frames: ``ceil(num_samples / hop)`` with ``hop = prod(upsampling_ratios)``. Outputs: ``latent`` and ``quantized``
(``hidden_size`` wide) or integer ``codes`` (one column per RVQ layer used at ``bandwidth``: transformers' rule
``floor(bandwidth / (frame_rate * log2(codebook_size)))``, at most the layers the checkpoint holds).
Meta ``.th`` files are read by tensor shapes (``encodec_meta``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svcprep.errors import CheckpointError, ConfigError
from svcprep.extractors.family import ModelFamily, check_choice, check_positive_number, frozen
from svcprep.extractors.hf_weights import weight_keys
from svcprep.extractors.metadata import count_rvq_layers, missing_key, read_model_configs, sample_rate_of
from svcprep.extractors.spec import CeilFrames, ExtractorSpec

OUTPUTS = ("latent", "quantized", "codes")
_COMMON = dict(hidden_size=128, codebook_size=1024)
PUBLISHED_24KHZ = frozen(sampling_rate=24000, upsampling_ratios=[8, 5, 4, 2], audio_channels=1,
                         target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0], **_COMMON)
PUBLISHED_32KHZ = frozen(sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], audio_channels=1,
                         target_bandwidths=[2.2], codebook_size=2048, hidden_size=128)
PUBLISHED_48KHZ = frozen(sampling_rate=48000, upsampling_ratios=[8, 5, 4, 2], audio_channels=2,
                         target_bandwidths=[3.0, 6.0, 12.0, 24.0], **_COMMON)


def read_config(path: Path) -> dict[str, Any]:
    if path.is_file():
        from svcprep.extractors.encodec_meta import read_meta_config  # lazy: torch stays off start-up

        return read_meta_config(path)

    config = read_model_configs(path)
    try:  # the RVQ depth the weights really hold (transformers' config can overstate it)
        config["num_quantizer_layers"] = count_rvq_layers(weight_keys(path))
    except CheckpointError:
        config["num_quantizer_layers"] = None  # a config-only dir: enough for the frame grid
    return config


def check_options(name: str, options: Mapping[str, Any]) -> None:
    check_choice(name, "output", options["output"], OUTPUTS)
    check_positive_number(name, "bandwidth", options["bandwidth"], allow_none=True)
    rate = options["sample_rate"]
    if rate is not None and (not isinstance(rate, int) or rate <= 0):
        raise ConfigError(f"{name}: sample_rate must be a positive integer, got {options['sample_rate']!r}")


def num_codebooks(config: Mapping[str, Any], sample_rate: int, hop_length: int, bandwidth: float) -> int:
    frame_rate = math.ceil(sample_rate / hop_length)
    bits_per_second = math.log2(int(config["codebook_size"])) * frame_rate
    num = max(1, math.floor(bandwidth * 1000 / bits_per_second))
    return min(num, int(config.get("num_quantizer_layers") or num))


DEFAULT_BANDWIDTH = 6.0


def resolved_bandwidth(config: Mapping[str, Any], requested: float | None, name: str = "encodec") -> float:
    """The bandwidth used: the one asked for (it must be among the model's ``target_bandwidths``), else the
    model's own highest bandwidth up to 6 kbps (its lowest when all are higher): 6.0 for Meta's 24 and 48 kHz
    models, 2.2 for MusicGen's 32 kHz one."""
    bandwidths = sorted(float(b) for b in config.get("target_bandwidths") or [])
    if requested is not None:
        if bandwidths and float(requested) not in bandwidths:
            raise ConfigError(f"{name}: bandwidth {requested} not supported by this model; choose from {bandwidths}")
        return float(requested)
    if not bandwidths:
        return DEFAULT_BANDWIDTH
    usable = [b for b in bandwidths if b <= DEFAULT_BANDWIDTH]
    return usable[-1] if usable else bandwidths[0]


def spec(name: str, config: Mapping[str, Any], options: Mapping[str, Any]) -> ExtractorSpec:
    try:
        frames = CeilFrames(tuple(int(r) for r in config["upsampling_ratios"]))
        sample_rate = options["sample_rate"] or sample_rate_of(config)
        bandwidth = resolved_bandwidth(config, options["bandwidth"], name)
        codes = options["output"] == "codes"
        dim = (num_codebooks(config, sample_rate, frames.hop_length, bandwidth) if codes
               else int(config["hidden_size"]))
        return ExtractorSpec(name, "encodec", sample_rate, dim, frames,
                             channels=int(config.get("audio_channels", 1)), integer_output=codes)
    except KeyError as exc:
        raise missing_key(name, "encodec", exc) from exc


FAMILY = ModelFamily(
    name="encodec",
    options=frozen(output="latent", bandwidth=None, sample_rate=None),
    read_config=read_config,
    spec=spec,
    loader="svcprep.extractors.encodec_model:load",
    check_options=check_options,
)
