"""The one registry of extractors: a name, its model family, published model and preset options.

Family modules are torch-free; models load only through :meth:`ResolvedExtractor.load`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors import dac, encodec, hubert, whisper
from svcprep.extractors.family import ModelFamily, frozen
from svcprep.extractors.hub import resolve_model
from svcprep.extractors.limits import building
from svcprep.extractors.spec import ExtractorSpec


@dataclass(frozen=True)
class ExtractorEntry:
    """A registered extractor: its family, published default model (and that model's config), preset options."""

    name: str
    family: ModelFamily
    default_model: str
    summary: str
    published_config: Mapping[str, Any]
    presets: Mapping[str, Any] = field(default_factory=lambda: frozen())

    @property
    def defaults(self) -> dict[str, Any]:
        return {**self.family.options, **self.presets}

    @property
    def takes_trust_remote_code(self) -> bool:
        return "trust_remote_code" in self.family.runtime_options

    def split_options(self, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.family.split_options(self.name, options, self.presets)


def _entry(name: str, family: ModelFamily, default_model: str, summary: str, published: Mapping[str, Any],
           **presets: Any) -> ExtractorEntry:
    return ExtractorEntry(name, family, default_model, summary, published, frozen(**presets))


ENTRIES: dict[str, ExtractorEntry] = {e.name: e for e in [
    _entry("whisper", whisper.FAMILY, "openai/whisper-medium",
           "Whisper encoder, last layer after the final layer norm (Amphion: medium, 1024-d)",
           whisper.PUBLISHED_MEDIUM),
    _entry("contentvec", hubert.CONTENTVEC, "lengyue233/content-vec-best",
           "ContentVec layer 12 + final_proj, 256-d (Amphion)", hubert.PUBLISHED_CONTENTVEC, layer=12, proj=True),
    _entry("contentvec-768-l12", hubert.CONTENTVEC, "lengyue233/content-vec-best",
           "ContentVec layer 12, no projection, 768-d (so-vits-svc vec768l12)", hubert.PUBLISHED_CONTENTVEC,
           layer=12, proj=False),
    _entry("contentvec-256-l9", hubert.CONTENTVEC, "lengyue233/content-vec-best",
           "ContentVec layer 9 + final_proj, 256-d (so-vits-svc vec256l9)", hubert.PUBLISHED_CONTENTVEC,
           layer=9, proj=True),
    _entry("hubert", hubert.HUBERT, "facebook/hubert-base-ls960", "HuBERT hidden states", hubert.PUBLISHED_BASE),
    _entry("wavlm", hubert.WAVLM, "microsoft/wavlm-large", "WavLM hidden states", hubert.PUBLISHED_LARGE),
    _entry("wav2vec2", hubert.WAV2VEC2, "facebook/wav2vec2-base-960h", "wav2vec 2.0 hidden states",
           hubert.PUBLISHED_BASE),
    _entry("mert", hubert.MERT, "m-a-p/MERT-v1-95M",
           "MERT-v1 music representation (custom code: needs trust_remote_code)", hubert.PUBLISHED_MERT_95M),
    _entry("encodec_24khz", encodec.FAMILY, "facebook/encodec_24khz",
           "Encodec 24 kHz encoder latent (128-d, 75 Hz), or quantized / codes", encodec.PUBLISHED_24KHZ),
    _entry("encodec_32khz", encodec.FAMILY, "facebook/encodec_32khz",
           "Encodec 32 kHz (MusicGen) encoder latent, 50 Hz", encodec.PUBLISHED_32KHZ),
    _entry("encodec_48khz", encodec.FAMILY, "facebook/encodec_48khz",
           "Encodec 48 kHz stereo encoder latent, 150 Hz", encodec.PUBLISHED_48KHZ),
    _entry("dac", dac.FAMILY, "descript/dac_44khz",
           "DAC 44.1 kHz (frame-grid metadata only: `svcprep hops` / `svcprep align`)", dac.PUBLISHED_44KHZ),
]}
ALIASES = {"encodec": "encodec_24khz", "dac_44khz": "dac"}


def get_entry(name: str) -> ExtractorEntry:
    key = ALIASES.get(name, name)
    if key not in ENTRIES:
        known = list(ENTRIES) + list(ALIASES)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown extractor {name!r}; {hint}known: {', '.join(known)}")
    return ENTRIES[key]


@dataclass(frozen=True)
class ResolvedExtractor:
    """An extractor with its model located and options checked, not loaded: its spec comes from config files."""

    entry: ExtractorEntry
    model: str
    path: Path
    settings: dict[str, Any]
    runtime: dict[str, Any]
    spec: ExtractorSpec

    def load(self):
        """The loaded extractor: ``.spec`` and ``.extract(waveforms)``."""
        with building(self.path):
            return self.entry.family.load(self.spec, self.path, self.settings, self.runtime)

    @property
    def model_key(self) -> tuple:
        """Equal for two resolutions of the same model with the same options (one load serves both)."""
        import json

        return ("extractor", self.entry.name, str(self.path), json.dumps(self.settings, sort_keys=True, default=str),
                json.dumps(self.runtime, sort_keys=True, default=str))


def resolve_extractor(name: str, model: str | Path | None = None, **options: Any) -> ResolvedExtractor:
    """Check options and locate the model (a local dir/file, or a hub id in the local cache); load nothing."""

    entry = get_entry(name)
    settings, runtime = entry.split_options(options)
    model = str(model) if model is not None else entry.default_model
    path = resolve_model(model, entry.name)
    return ResolvedExtractor(entry, model, path, settings, runtime,
                             entry.family.spec_of(entry.name, path, settings, runtime))


def spec_for(name: str, model: str | Path | None = None, **options: Any) -> ExtractorSpec:
    """The spec from a model's own config (a dir, a fairseq ``.pt``, a Meta ``.th``) or the published one."""
    if model is not None:
        return resolve_extractor(name, model, **options).spec
    entry = get_entry(name)
    settings, _ = entry.split_options(options)
    return entry.family.spec(entry.name, entry.published_config, settings)


def grid_for(name: str, model: str | Path | None = None) -> ExtractorSpec:
    """The frame grid alone (``svcprep hops``, ``svcprep align``): from the model's config files, with output
    options left at values every model accepts (layer ``final``, no projection, the model's own bandwidth), and
    without asking for ``trust_remote_code``: reading a config runs no code."""

    entry = get_entry(name)
    neutral = {k: v for k, v in {"layer": "final", "proj": False, "bandwidth": None, "output": "latent"}.items()
               if k in entry.family.options}
    settings, runtime = entry.split_options(neutral)
    if model is None:
        return entry.family.spec(name, entry.published_config, settings)
    path = resolve_model(str(model), entry.name)
    return entry.family.spec_of(name, path, settings, runtime, check_model=False)


def load_extractor(name: str, model: str | Path | None = None, **options: Any):
    """Load extractor ``name`` from a local dir/file or a hub id (default: its published model).

    Returns an object with ``.spec`` (:class:`ExtractorSpec`) and ``.extract(waveforms)``.
    """
    entry = get_entry(name)
    if not entry.family.loader:
        raise ConfigError(f"{entry.name}: {entry.summary}; it has no feature extractor")
    return resolve_extractor(name, model, **options).load()
