"""The one registry of extractors. Loaders are import strings, resolved only when a model is loaded."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.metadata import PUBLISHED_CONFIGS, read_model_configs, spec_from_config
from svcprep.extractors.spec import ExtractorSpec


def _frozen(**kwargs: Any) -> Mapping[str, Any]:
    return MappingProxyType(dict(kwargs))


@dataclass(frozen=True)
class ExtractorEntry:
    """A registered extractor: its family, published default model and default options."""

    name: str
    family: str
    loader: str  # "module:function", imported lazily
    default_model: str
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=lambda: _frozen())

    @property
    def published_config(self) -> dict[str, Any]:
        return PUBLISHED_CONFIGS[self.name if self.name in PUBLISHED_CONFIGS else self.family]


_HUBERT = "svcprep.extractors.hubert:load"
_ENCODEC = "svcprep.extractors.encodec:load"

ENTRIES: dict[str, ExtractorEntry] = {
    e.name: e
    for e in [
        ExtractorEntry("whisper", "whisper", "svcprep.extractors.whisper:load", "openai/whisper-medium",
                       "Whisper encoder, last layer after the final layer norm (Amphion: medium, 1024-d)",
                       _frozen(layer="final", window="full")),
        ExtractorEntry("contentvec", "contentvec", _HUBERT, "lengyue233/content-vec-best",
                       "ContentVec layer 12 + final_proj, 256-d (Amphion)", _frozen(layer=12, proj=True)),
        ExtractorEntry("contentvec-768-l12", "contentvec", _HUBERT, "lengyue233/content-vec-best",
                       "ContentVec layer 12, no projection, 768-d (so-vits-svc vec768l12)",
                       _frozen(layer=12, proj=False)),
        ExtractorEntry("contentvec-256-l9", "contentvec", _HUBERT, "lengyue233/content-vec-best",
                       "ContentVec layer 9 + final_proj, 256-d (so-vits-svc vec256l9)", _frozen(layer=9, proj=True)),
        ExtractorEntry("hubert", "hubert", _HUBERT, "facebook/hubert-base-ls960",
                       "HuBERT hidden states", _frozen(layer="final")),
        ExtractorEntry("wavlm", "wavlm", _HUBERT, "microsoft/wavlm-large",
                       "WavLM hidden states", _frozen(layer="final")),
        ExtractorEntry("wav2vec2", "wav2vec2", _HUBERT, "facebook/wav2vec2-base-960h",
                       "wav2vec 2.0 hidden states", _frozen(layer="final")),
        ExtractorEntry("mert", "mert", _HUBERT, "m-a-p/MERT-v1-95M",
                       "MERT-v1 music representation (custom code: needs trust_remote_code)",
                       _frozen(layer="final", trust_remote_code=False)),
        ExtractorEntry("encodec_24khz", "encodec", _ENCODEC, "facebook/encodec_24khz",
                       "Encodec 24 kHz encoder latent (128-d, 75 Hz), or quantized / codes",
                       _frozen(output="latent", bandwidth=6.0)),
        ExtractorEntry("encodec_32khz", "encodec", _ENCODEC, "facebook/encodec_32khz",
                       "Encodec 32 kHz (MusicGen) encoder latent, 50 Hz", _frozen(output="latent", bandwidth=2.2)),
        ExtractorEntry("encodec_48khz", "encodec", _ENCODEC, "facebook/encodec_48khz",
                       "Encodec 48 kHz stereo encoder latent, 150 Hz", _frozen(output="latent", bandwidth=6.0)),
        ExtractorEntry("dac", "dac", "", "descript/dac_44khz",
                       "DAC 44.1 kHz (frame-grid metadata only: `svcprep hops` / `svcprep align`)"),
    ]
}
ALIASES = {"encodec": "encodec_24khz", "dac_44khz": "dac"}


def get_entry(name: str) -> ExtractorEntry:
    key = ALIASES.get(name, name)
    if key not in ENTRIES:
        raise ConfigError(f"unknown extractor {name!r}; known: {', '.join(list(ENTRIES) + list(ALIASES))}")
    return ENTRIES[key]


def resolve_options(entry: ExtractorEntry, options: Mapping[str, Any]) -> dict[str, Any]:
    """Merge user options over the entry defaults; an unknown option is an error listing the valid ones."""
    from svcprep.extractors.options import COMMON_OPTIONS, FAMILY_OPTIONS

    valid = COMMON_OPTIONS | FAMILY_OPTIONS.get(entry.family, frozenset())
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ConfigError(
            f"{entry.name}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    return {**entry.defaults, **options}


def spec_for(name: str, model_dir: str | Path | None = None, **options: Any) -> ExtractorSpec:
    """The spec of an extractor from a model dir's config files, or from published defaults. No torch."""
    entry = get_entry(name)
    config = read_model_configs(model_dir) if model_dir is not None else entry.published_config
    opts = resolve_options(entry, options)
    dim = None
    if entry.family == "contentvec" and opts.get("proj"):
        dim = int(config.get("proj_dim") or config.get("classifier_proj_size") or 256)
    return spec_from_config(entry.name, entry.family, config, dim=dim)


def load_extractor(name: str, model: str | Path | None = None, **options: Any):
    """Load extractor ``name`` from a local dir/file or a hub id (default: its published model).

    Returns an object with ``.spec`` (:class:`ExtractorSpec`) and ``.extract(waveforms)``.
    """
    entry = get_entry(name)
    if not entry.loader:
        raise ConfigError(f"{entry.name}: {entry.summary}; it has no feature extractor")
    opts = resolve_options(entry, options)
    from svcprep.extractors.base import quiet_transformers

    quiet_transformers()
    module_name, func_name = entry.loader.split(":")
    loader = getattr(importlib.import_module(module_name), func_name)
    return loader(entry, model if model is not None else entry.default_model, opts)
