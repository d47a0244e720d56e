"""Whisper encoder family: options, frame grid from the model's config, loader (``whisper_model``).

Frames: ``n = num_samples // hop_length`` log-mel frames (``preprocessor_config.json``), then the encoder's two
convs of kernel 3 with strides 1 and 2 (architectural): ``ceil(n / 2)`` frames of ``d_model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.family import ModelFamily, check_choice, check_layer, frozen
from svcprep.extractors.metadata import missing_key, read_model_configs, sample_rate_of
from svcprep.extractors.spec import ExtractorSpec, WhisperFrames

WINDOWS = ("full", "trim")
CONV_STRIDES = (1, 2)
PUBLISHED_MEDIUM = frozen(sampling_rate=16000, hop_length=160, d_model=1024, encoder_layers=24)


def read_config(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise ConfigError(f"whisper: {path} must be a transformers model directory (OpenAI .pt files are not read)")
    return read_model_configs(path)


def check_options(name: str, options: Mapping[str, Any]) -> None:
    check_layer(name, options["layer"])
    check_choice(name, "window", options["window"], WINDOWS)


def spec(name: str, config: Mapping[str, Any], options: Mapping[str, Any]) -> ExtractorSpec:
    try:
        if "encoder_layers" in config:
            check_layer(name, options["layer"], int(config["encoder_layers"]))
        frames = WhisperFrames(int(config.get("hop_length", 160)), CONV_STRIDES)
        return ExtractorSpec(name, "whisper", sample_rate_of(config), int(config["d_model"]), frames)
    except KeyError as exc:
        raise missing_key(name, "whisper", exc) from exc


FAMILY = ModelFamily(
    name="whisper",
    options=frozen(layer="final", window="full"),
    read_config=read_config,
    spec=spec,
    loader="svcprep.extractors.whisper_model:load",
    check_options=check_options,
)
