"""A model family: its options and their defaults, its spec from a model's config, and its loader.

Everything here is torch-free until :meth:`ModelFamily.load` runs: ``svcprep hops``, option validation and
provenance (which decides whether a rerun has anything to do) use the family without loading a model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.limits import check_config_limits
from svcprep.extractors.spec import ExtractorSpec

# Options every family takes; they change how a model runs, not what it outputs.
RUNTIME_OPTIONS = MappingProxyType({"device": "auto", "dtype": "float32", "verify": True})

SpecRule = Callable[[str, Mapping[str, Any], Mapping[str, Any]], ExtractorSpec]
ConfigReader = Callable[[Path], dict[str, Any]]
OptionCheck = Callable[[str, Mapping[str, Any]], None]
ModelCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any]], None]


def frozen(**kwargs: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(kwargs))


def _no_check(*_args: Any) -> None:
    return None


@dataclass(frozen=True)
class ModelFamily:
    """One family of models (Whisper, HuBERT-like, Encodec, ...).

    ``options``: the options that change the output, with their defaults. ``runtime_options``: further
    options the family accepts that do not change the output (e.g. ``trust_remote_code``).
    ``read_config(path)``: the config dict of a model dir or checkpoint file (only config files for dirs).
    ``spec(name, config, options)``: the exact frame grid and output of extractor ``name``.
    ``loader``: ``"module:function"`` called as ``load(spec, path, options)``, imported only when loading.
    ``check_options(name, settings)`` checks values; ``check_model(name, config, runtime)`` checks a model
    against the runtime options (e.g. custom code without ``trust_remote_code``) before anything loads.
    """

    name: str
    options: Mapping[str, Any]
    read_config: ConfigReader
    spec: SpecRule
    loader: str = ""
    runtime_options: Mapping[str, Any] = field(default_factory=lambda: frozen())
    check_options: OptionCheck = _no_check
    check_model: ModelCheck = _no_check

    def split_options(self, extractor: str, given: Mapping[str, Any],
                      presets: Mapping[str, Any] = MappingProxyType({})) -> tuple[dict[str, Any], dict[str, Any]]:
        """(output settings, runtime options): the defaults, then ``presets``, then ``given``.

        An unknown option is an error that lists the valid ones; values are checked by the family.
        """
        runtime_names = set(RUNTIME_OPTIONS) | set(self.runtime_options)
        unknown = sorted(set(given) - set(self.options) - runtime_names)
        if unknown:
            valid = sorted(set(self.options) | runtime_names)
            raise ConfigError(f"{extractor}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        merged = {**self.options, **presets, **given}
        settings = {k: merged[k] for k in self.options}
        runtime = {**RUNTIME_OPTIONS, **self.runtime_options,
                   **{k: v for k, v in given.items() if k in runtime_names}}
        self.check_options(extractor, settings)
        return settings, runtime

    def spec_of(self, extractor: str, path: Path, settings: Mapping[str, Any],
                runtime: Mapping[str, Any] = RUNTIME_OPTIONS, check_model: bool = True) -> ExtractorSpec:
        """The spec of the model at ``path`` from its config alone (no weights are loaded for model dirs)."""

        config = self.read_config(path)
        check_config_limits(config, str(path))
        if check_model:
            self.check_model(extractor, config, runtime)
        return self.spec(extractor, config, settings)

    def load(self, spec: ExtractorSpec, path: Path, settings: Mapping[str, Any], runtime: Mapping[str, Any]):
        if not self.loader:
            raise ConfigError(f"{spec.name}: frame-grid metadata only (`svcprep hops`, `svcprep align`); "
                              "it has no feature extractor")
        from svcprep.extractors.base import quiet_transformers  # lazy: torch stays off start-up

        quiet_transformers()
        module_name, func_name = self.loader.split(":")
        load = getattr(importlib.import_module(module_name), func_name)
        return load(spec, path, {**settings, **runtime})


def check_layer(extractor: str, layer: Any, num_layers: int | None = None) -> None:
    """``layer`` is ``"final"`` or a 1-based transformer layer (at most ``num_layers`` when known)."""
    if layer == "final":
        return
    top = f"1..{num_layers}" if num_layers else "a positive integer"
    if not isinstance(layer, int) or isinstance(layer, bool) or layer < 1 or (num_layers and layer > num_layers):
        raise ConfigError(f"{extractor}: layer must be {top} or 'final', got {layer!r}")


def check_choice(extractor: str, option: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{extractor}: {option} must be one of {', '.join(choices)}, got {value!r}")


def check_positive_number(extractor: str, option: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{extractor}: {option} must be a positive number, got {value!r}")
