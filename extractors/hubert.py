"""HuBERT-like families (HuBERT, ContentVec, WavLM, wav2vec 2.0, MERT): options, frame grid, loader.

Frames: the conv feature encoder, each layer ``(kernel_size, stride)`` applied in turn without padding
(``config.conv_kernel``/``conv_stride``, or fairseq's ``conv_feature_layers``); ``hidden_size`` wide, or the
``final_proj`` width with ``proj=True`` (ContentVec). fairseq ``.pt`` files are read for HuBERT and ContentVec.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.family import ModelFamily, check_layer, check_positive_number, frozen
from svcprep.extractors.metadata import conv_layers, missing_key, read_model_configs, sample_rate_of
from svcprep.extractors.spec import ConvStackFrames, ExtractorSpec

BASE_CONV = ((10, 5),) + ((3, 2),) * 4 + ((2, 2),) * 2
PUBLISHED_BASE = frozen(sampling_rate=16000, conv=BASE_CONV, hidden_size=768, num_hidden_layers=12)
PUBLISHED_LARGE = frozen(sampling_rate=16000, conv=BASE_CONV, hidden_size=1024, num_hidden_layers=24)
PUBLISHED_CONTENTVEC = frozen(**PUBLISHED_BASE, proj_dim=256)
PUBLISHED_MERT_95M = frozen(sampling_rate=24000, conv=BASE_CONV, hidden_size=768, num_hidden_layers=12)
LOADER = "svcprep.extractors.hubert_model:load"
FAIRSEQ_FAMILIES = ("hubert", "contentvec")


def read_config(path: Path) -> dict[str, Any]:
    if path.is_dir():
        return read_model_configs(path)
    from svcprep.extractors.fairseq_hubert import read_fairseq_config  # lazy: torch stays off start-up

    return read_fairseq_config(path)


def _read_config_no_files(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise ConfigError(f"{path} is a file; give a transformers model directory "
                          f"(fairseq .pt files are read for {' and '.join(FAIRSEQ_FAMILIES)} only)")
    return read_model_configs(path)


def check_options(name: str, options: Mapping[str, Any]) -> None:
    check_layer(name, options["layer"])
    check_positive_number(name, "chunk_seconds", options["chunk_seconds"], allow_none=True)
    if not isinstance(options["overlap_seconds"], int | float) or options["overlap_seconds"] < 0:
        raise ConfigError(f"{name}: overlap_seconds must be >= 0, got {options['overlap_seconds']!r}")
    if options["chunk_seconds"] is not None and options["chunk_seconds"] <= 2 * options["overlap_seconds"]:
        raise ConfigError(f"{name}: chunk_seconds ({options['chunk_seconds']}) must exceed twice overlap_seconds "
                          f"({options['overlap_seconds']})")


def check_custom_code(name: str, config: Mapping[str, Any], runtime: Mapping[str, Any]) -> None:
    if config.get("auto_map") and "trust_remote_code" not in runtime:
        raise ConfigError(f"{name}: the model ships its own code; svcprep runs custom model code only for "
                          "the mert extractor")
    if config.get("auto_map") and not runtime["trust_remote_code"]:
        raise ConfigError(f"{name}: the model ships its own code; pass trust_remote_code=True "
                          "(CLI: --trust-remote-code) if you trust it")


def _spec_rule(family: str):
    def spec(name: str, config: Mapping[str, Any], options: Mapping[str, Any]) -> ExtractorSpec:
        try:
            if "num_hidden_layers" in config:
                check_layer(name, options["layer"], int(config["num_hidden_layers"]))
            dim = int(config["hidden_size"])
            if options.get("proj"):
                proj_dim = config.get("proj_dim") or config.get("classifier_proj_size")
                if not proj_dim:
                    raise ConfigError(f"{name}: proj=True but the model has no final_proj layer")
                dim = int(proj_dim)
            return ExtractorSpec(name, family, sample_rate_of(config, 16000), dim, ConvStackFrames(conv_layers(config)))
        except KeyError as exc:
            raise missing_key(name, family, exc) from exc

    return spec


_RUN_OPTIONS = dict(layer="final", chunk_seconds=30.0, overlap_seconds=2.0)


def _family(name: str, **extra_options: Any) -> ModelFamily:
    return ModelFamily(
        name=name,
        options=frozen(**_RUN_OPTIONS, **extra_options),
        read_config=read_config if name in FAIRSEQ_FAMILIES else _read_config_no_files,
        spec=_spec_rule(name),
        loader=LOADER,
        check_options=check_options,
        check_model=check_custom_code,
        runtime_options=frozen(trust_remote_code=False) if name == "mert" else frozen(),
    )


HUBERT = _family("hubert")
CONTENTVEC = _family("contentvec", proj=False)
WAVLM = _family("wavlm")
WAV2VEC2 = _family("wav2vec2")
MERT = _family("mert")
