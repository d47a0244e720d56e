"""Reading model metadata without weights or torch: config JSON files and fairseq conv strings."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError


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
                merged.update(json.loads(path.read_text(encoding="utf-8")))
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
            times = ast.literal_eval(node.right)
            if not isinstance(times, int) or not 0 <= times <= 64:
                raise ValueError(f"repeat count {times!r}")
            return build(node.left) * times
        value = ast.literal_eval(node)
        if not isinstance(value, list):
            raise ValueError("expected a list")
        return value

    if not isinstance(text, str) or len(text) > 2000:
        raise ConfigError(f"conv_feature_layers must be a short Python list expression, got {str(text)[:80]!r}")
    try:
        layers = tuple((int(d), int(k), int(s)) for d, k, s in build(ast.parse(text, mode="eval").body))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ConfigError(f"cannot parse conv_feature_layers {text!r}: {exc}") from exc
    if not 0 < len(layers) <= 64:
        raise ConfigError(f"conv_feature_layers {text!r}: {len(layers)} layers (1..64 expected)")
    return layers


def parse_fairseq_conv_layers(text: str) -> tuple[tuple[int, int], ...]:
    """(kernel_size, stride) of each layer of a fairseq ``conv_feature_layers`` string."""
    return tuple((k, s) for _, k, s in parse_fairseq_conv_spec(text))


def conv_layers(config: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    """(kernel_size, stride) of each feature-encoder conv, from transformers' or fairseq's config keys."""
    if "conv_kernel" in config and "conv_stride" in config:
        return tuple(zip(map(int, config["conv_kernel"]), map(int, config["conv_stride"]), strict=True))
    if "conv_feature_layers" in config:
        return parse_fairseq_conv_layers(config["conv_feature_layers"])
    return tuple(config["conv"])


def sample_rate_of(config: dict[str, Any], default: int | None = None) -> int:
    """The model's sample rate (MERT keeps it under a non-standard ``sample_rate`` key in config.json)."""
    for key in ("sampling_rate", "sample_rate"):
        if key in config:
            return int(config[key])
    if default is not None:
        return default
    raise ConfigError("model config has no sampling_rate")


def missing_key(name: str, family: str, exc: KeyError) -> ConfigError:
    return ConfigError(f"{name}: model config lacks {exc.args[0]!r}; is this a {family} model?")


def count_rvq_layers(keys, pattern: str = r"^quantizer\.(?:vq\.)?layers\.(\d+)\.") -> int:
    """RVQ depth from tensor names (transformers' ``quantizer.layers.N`` or Meta's ``quantizer.vq.layers.N``)."""
    indices = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(indices) + 1 if indices else 0
