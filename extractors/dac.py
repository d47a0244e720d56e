"""DAC family (44.1 kHz): frame-grid metadata only, for ``svcprep hops`` and ``svcprep align``.

Frames: ``ceil(num_samples / hop)`` with ``hop = prod(downsampling_ratios)`` (512 at 44.1 kHz, 86.13 Hz).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.family import ModelFamily, frozen
from svcprep.extractors.metadata import missing_key, read_model_configs, sample_rate_of
from svcprep.extractors.spec import CeilFrames, ExtractorSpec

PUBLISHED_44KHZ = frozen(sampling_rate=44100, downsampling_ratios=[2, 4, 8, 8], hidden_size=1024)


def read_config(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise ConfigError(f"dac: {path} must be a transformers model directory (config.json)")
    return read_model_configs(path)


def spec(name: str, config: Mapping[str, Any], _options: Mapping[str, Any]) -> ExtractorSpec:
    try:
        frames = CeilFrames(tuple(int(r) for r in config["downsampling_ratios"]))
        return ExtractorSpec(name, "dac", sample_rate_of(config), int(config["hidden_size"]), frames)
    except KeyError as exc:
        raise missing_key(name, "dac", exc) from exc


FAMILY = ModelFamily(name="dac", options=frozen(), read_config=read_config, spec=spec)
