"""The settings recipes share: an extractor and its options, value checks that name the parameter, dtypes, paths
relative to a config file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.registry import get_entry
from svcprep.pitch.settings import PitchSettings, pitch_settings_from_dict

SAVE_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class ExtractorConfig:
    """One extractor of a recipe; outputs go to ``<feature_name or name>``. Name and options are checked here."""

    name: str
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    feature_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping):
            raise ConfigError(f"{self.name}: options must be a mapping, got {self.options!r}")
        entry = get_entry(self.name)
        entry.split_options({**self.options, "device": "auto", "dtype": "float32"})
        if self.feature_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.feature_name):
            raise ConfigError(f"{self.name}: feature_name {self.feature_name!r} must be a plain directory name")

    @property
    def out_name(self) -> str:
        return self.feature_name or self.name

    @property
    def settings(self) -> dict[str, Any]:
        """The options that shape the output, defaults filled in (what provenance records)."""
        return get_entry(self.name).split_options(self.options)[0]


def check_number(name: str, value: Any, *, positive: bool = False, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"expected {'an integer' if integer else 'a number'}, got {value!r}", name)
    if positive and not value > 0:
        raise ConfigError(f"must be positive, got {value!r}", name)
    if value < 0:
        raise ConfigError(f"must be >= 0, got {value!r}", name)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}, got {value!r}", name)


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {value!r}", name)


def config_path(value: Any, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else base / p


def config_model(value: Any, base: Path) -> str | None:
    """Relative file paths are relative to the config; hub ids (``org/name``) stay as they are."""
    if value is None:
        return None
    text = str(value)
    candidate = (base / text).expanduser()
    return str(candidate.resolve()) if not Path(text).is_absolute() and candidate.exists() else text


def pitch_from(data: Any, model_paths: dict[str, str], options: dict[str, dict],
               defaults: PitchSettings | None = None) -> PitchSettings | None:
    """``pitch:`` of a run config with ``--set pitch.KEY=VALUE`` and ``--model fcpe|rmvpe=PATH`` applied."""
    if not data and not options.get("pitch") and defaults is None:
        return None
    settings = pitch_settings_from_dict(data if data else True, defaults)
    if options.get("pitch"):
        settings = pitch_settings_from_dict(options["pitch"], settings)
    if settings.method in model_paths:
        settings = settings.replace(model=str(Path(model_paths[settings.method]).expanduser().resolve()))
    return settings


def default_pitch(model_paths: dict[str, str], data: Any, options: dict[str, dict],
                  defaults: PitchSettings | None = None) -> tuple[PitchSettings, str]:
    """RMVPE at the project's threshold (so-vits-svc: 0.05) when its checkpoint is given; FCPE (torchfcpe's weights)
    when it is not and the method was not chosen; else what the config or ``--set pitch.*`` says."""

    chosen = bool((isinstance(data, dict) and "method" in data) or "method" in options.get("pitch", {}))
    settings = pitch_from(data, model_paths, options, defaults or PitchSettings(method="rmvpe", threshold=0.05))
    if settings.method == "rmvpe" and settings.model is None and not chosen:
        return settings.replace(method="fcpe", threshold=None), (
            "pitch: FCPE (torchfcpe's weights); give --model rmvpe=PATH to use RMVPE, the project's default")
    return settings, f"pitch: {settings.method} (threshold {settings.voicing_threshold})" \
        if settings.voicing_threshold is not None else f"pitch: {settings.method}"


def recipe_settings(recipe: str, data: dict[str, Any], keys: tuple[str, ...], extractor: str | None, base: Path,
                    model_paths: dict[str, str], options: dict[str, dict], pitch_defaults) -> dict[str, Any]:
    """The settings of a recipe whose content comes from one ContentVec-family extractor and whose F0 from one
    tracker: ``data`` with ``--set <recipe>.KEY`` over it, unknown keys refused, the extractor's model and options
    from ``--model contentvec=`` / ``--model <extractor>=`` and ``--set contentvec.*``, the pitch settings with
    the project's default tracker (:func:`~svcprep.recipes.sovits.default_pitch`)."""

    values = {**data, **options.get(recipe, {})}
    unknown = sorted(set(values) - set(keys))
    if unknown:
        valid = ", ".join(sorted(("recipe", *keys)))
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; valid: {valid}")
    given = model_paths.get("contentvec", model_paths.get(extractor or ""))
    model = config_model(given, Path.cwd()) if given else config_model(values.get("model"), base)
    pitch, note = default_pitch(model_paths, values.get("pitch"), options, pitch_defaults)
    extractor_options = {**(values.get("options") or {}), **options.get("contentvec", {}),
                         **options.get(extractor or "", {})}
    kept = {k: v for k, v in values.items() if k not in ("model", "pitch", "options")}
    return {"model": model, "options": extractor_options, "pitch": pitch, "pitch_note": note, **kept}
