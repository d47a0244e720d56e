"""``svcprep run`` configs: YAML files (built-in in ``configs/`` or a path) loaded into a PipelineConfig."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from svcprep.errors import ConfigError
from svcprep.pipeline import ExtractorConfig, PipelineConfig
from svcprep.presets import load_preset

RUN_KEYS = {"corpus", "out", "preset", "mels", "extractors", "device", "dtype", "batch_seconds", "num_workers",
            "method", "tolerance", "keep_native", "save_dtype"}
EXTRACTOR_KEYS = {"name", "model", "options", "feature_name"}


def read_run_config(name_or_path: str) -> tuple[dict[str, Any], Path]:
    """The YAML mapping and the dir its relative paths are relative to."""
    path = Path(name_or_path)
    if path.is_file():
        text, base = path.read_text(), path.resolve().parent
    else:
        resource = resources.files("svcprep.configs") / f"{name_or_path}.yaml"
        if not resource.is_file():
            raise ConfigError(f"run config {name_or_path!r} is neither a file nor a built-in config")
        text, base = resource.read_text(), Path.cwd()
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "extractors" not in data and "mels" not in data:
        raise ConfigError(f"{name_or_path}: not a run config (needs 'extractors' and/or 'mels')")
    return data, base


def _path(value: Any, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else base / p


def _model(value: Any, base: Path) -> str | None:
    if value is None:
        return None
    text = str(value)
    # Relative file paths are relative to the config; hub ids ("org/name") stay as they are.
    candidate = base / text
    return str(candidate) if not Path(text).is_absolute() and candidate.exists() else text


def pipeline_config_from_dict(data: dict[str, Any], base: Path, **overrides: Any) -> PipelineConfig:
    unknown = sorted(set(data) - RUN_KEYS)
    if unknown:
        raise ConfigError(f"run config: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(RUN_KEYS))}")
    extractors = []
    for i, item in enumerate(data.get("extractors") or []):
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"run config: extractors[{i}] needs a 'name'")
        bad = sorted(set(item) - EXTRACTOR_KEYS)
        if bad:
            raise ConfigError(f"run config: extractors[{i}]: unknown key(s) {', '.join(bad)}; "
                              f"valid: {', '.join(sorted(EXTRACTOR_KEYS))}")
        options = dict(item.get("options") or {})
        extractors.append(ExtractorConfig(item["name"], _model(item.get("model"), base), options,
                                          item.get("feature_name")))
    values: dict[str, Any] = {
        "corpus": _path(data["corpus"], base) if data.get("corpus") else None,
        "out": _path(data["out"], base) if data.get("out") else None,
        "preset": load_preset(str(data.get("preset", "amphion-svc-24k"))),
        "write_mels": bool(data.get("mels", True)),
        "extractors": tuple(extractors),
    }
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    values.update({k: data[k] for k in RUN_KEYS & fields if k in data and k not in values})
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("corpus") is None:
        raise ConfigError("run config: no corpus (set 'corpus:' or pass --corpus)")
    return PipelineConfig(**values)
