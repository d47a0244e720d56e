"""Extractor specs computed from a model's own config files, or from published defaults.

Only ``config.json`` / ``preprocessor_config.json`` are read; no weights, no torch.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.spec import CeilFrames, ConvStackFrames, ExtractorSpec, WhisperFrames

HUBERT_BASE_CONV = ((10, 5),) + ((3, 2),) * 4 + ((2, 2),) * 2

# Published configs (REFERENCE.md §1); used when no model dir is given.
PUBLISHED_CONFIGS: dict[str, dict[str, Any]] = {
    "whisper": {"sampling_rate": 16000, "hop_length": 160, "d_model": 1024},
    "hubert": {"sampling_rate": 16000, "conv": HUBERT_BASE_CONV, "hidden_size": 768},
    "wav2vec2": {"sampling_rate": 16000, "conv": HUBERT_BASE_CONV, "hidden_size": 768},
    "wavlm": {"sampling_rate": 16000, "conv": HUBERT_BASE_CONV, "hidden_size": 1024},
    "contentvec": {"sampling_rate": 16000, "conv": HUBERT_BASE_CONV, "hidden_size": 768, "proj_dim": 256},
    "mert": {"sampling_rate": 24000, "conv": HUBERT_BASE_CONV, "hidden_size": 768},
    "encodec_24khz": {"sampling_rate": 24000, "upsampling_ratios": [8, 5, 4, 2], "hidden_size": 128,
                      "audio_channels": 1},
    "encodec_32khz": {"sampling_rate": 32000, "upsampling_ratios": [8, 5, 4, 4], "hidden_size": 128,
                      "audio_channels": 1},
    "encodec_48khz": {"sampling_rate": 48000, "upsampling_ratios": [8, 5, 4, 2], "hidden_size": 128,
                      "audio_channels": 2},
    "dac": {"sampling_rate": 44100, "downsampling_ratios": [2, 4, 8, 8], "hidden_size": 1024},
}


def read_model_configs(model_dir: str | Path) -> dict[str, Any]:
    """Merge ``preprocessor_config.json`` under ``config.json`` of a model directory."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ConfigError(f"{model_dir}: not a model directory (expected config.json inside)")
    merged: dict[str, Any] = {}
    found = False
    for name in ("preprocessor_config.json", "config.json"):
        path = model_dir / name
        if path.is_file():
            found = True
            try:
                merged.update(json.loads(path.read_text()))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: invalid JSON ({exc})") from exc
    if not found:
        raise ConfigError(f"{model_dir}: has neither config.json nor preprocessor_config.json")
    return merged


def parse_fairseq_conv_spec(text: str) -> tuple[tuple[int, int, int], ...]:
    """Parse fairseq's ``conv_feature_layers``, e.g. ``"[(512,10,5)] + [(512,3,2)] * 4"``, to (dim, k, s).

    The string is Python syntax; only literals, ``+`` and ``* int`` are accepted (never ``eval``).
    """

    def build(node: ast.AST) -> list:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return build(node.left) + build(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return build(node.left) * ast.literal_eval(node.right)
        value = ast.literal_eval(node)
        if not isinstance(value, list):
            raise ValueError("expected a list")
        return value

    try:
        return tuple((int(d), int(k), int(s)) for d, k, s in build(ast.parse(text, mode="eval").body))
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ConfigError(f"cannot parse conv_feature_layers {text!r}: {exc}") from exc


def parse_fairseq_conv_layers(text: str) -> tuple[tuple[int, int], ...]:
    """(kernel_size, stride) of each layer of a fairseq ``conv_feature_layers`` string."""
    return tuple((k, s) for _, k, s in parse_fairseq_conv_spec(text))


def _conv_layers(config: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    if "conv_kernel" in config and "conv_stride" in config:
        return tuple(zip(map(int, config["conv_kernel"]), map(int, config["conv_stride"]), strict=True))
    if "conv_feature_layers" in config:
        return parse_fairseq_conv_layers(config["conv_feature_layers"])
    return tuple(config["conv"])


def _sample_rate(config: dict[str, Any]) -> int:
    # MERT keeps its rate under a non-standard "sample_rate" key in config.json.
    for key in ("sampling_rate", "sample_rate"):
        if key in config:
            return int(config[key])
    raise ConfigError("model config has no sampling_rate")


def spec_from_config(name: str, family: str, config: dict[str, Any], *, dim: int | None = None) -> ExtractorSpec:
    """Build the spec of extractor ``name`` (of ``family``) from a merged config dict."""
    try:
        if family == "whisper":
            frames = WhisperFrames(int(config.get("hop_length", 160)))
            return ExtractorSpec(name, family, _sample_rate(config), dim or int(config["d_model"]), frames)
        if family in ("hubert", "wav2vec2", "wavlm", "contentvec", "mert"):
            frames = ConvStackFrames(_conv_layers(config))
            sample_rate = _sample_rate(config) if family == "mert" or "sampling_rate" in config else 16000
            return ExtractorSpec(name, family, sample_rate, dim or int(config["hidden_size"]), frames)
        if family == "encodec":
            frames = CeilFrames(tuple(int(r) for r in config["upsampling_ratios"]))
            return ExtractorSpec(
                name, family, _sample_rate(config), dim or int(config["hidden_size"]), frames,
                channels=int(config.get("audio_channels", 1)),
            )
        if family == "dac":
            frames = CeilFrames(tuple(int(r) for r in config["downsampling_ratios"]))
            return ExtractorSpec(name, family, _sample_rate(config), dim or int(config["hidden_size"]), frames)
    except KeyError as exc:
        raise ConfigError(f"{name}: model config lacks {exc.args[0]!r}; is this a {family} model?") from exc
    raise ConfigError(f"no metadata rule for family {family!r}")
