"""What a pipeline run does, validated where it is made: before any model loads or any file is written.

:class:`PipelineConfig` checks every value and type (from the CLI, from Python, or from a run YAML read by
:func:`pipeline_config_from_dict`); :class:`ExtractorConfig` checks the extractor name and its options against
its model family. Errors name the parameter (``batch_seconds``); the CLI shows the flag (``--batch-seconds``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from svcprep.align.methods import METHODS
from svcprep.errors import ConfigError
from svcprep.pipeline.layout import RESERVED_OUTPUTS
from svcprep.pitch.settings import PitchSettings, pitch_settings_from_dict
from svcprep.presets import MelPreset, load_preset

SAVE_DTYPES = ("float32", "float16")
MODEL_DTYPES = ("float32", "float16", "bfloat16")
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")


@dataclass(frozen=True)
class ExtractorConfig:
    """One extractor of a run; outputs go to ``OUT/<feature_name>/``. Name and options are checked here."""

    name: str
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    feature_name: str | None = None

    def __post_init__(self) -> None:
        from svcprep.extractors.registry import get_entry

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
        from svcprep.extractors.registry import get_entry

        return get_entry(self.name).split_options(self.options)[0]


def _number(name: str, value: Any, *, positive: bool = False, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"expected {'an integer' if integer else 'a number'}, got {value!r}", name)
    if positive and not value > 0:
        raise ConfigError(f"must be positive, got {value!r}", name)
    if value < 0:
        raise ConfigError(f"must be >= 0, got {value!r}", name)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}, got {value!r}", name)


@dataclass(frozen=True)
class PipelineConfig:
    corpus: Path
    out: Path | None
    preset: MelPreset
    write_mels: bool
    extractors: tuple[ExtractorConfig, ...] = ()
    device: str = "auto"
    dtype: str = "float32"
    batch_seconds: float | None = None  # None: by device (see svcprep.pipeline.device_defaults)
    num_workers: int | None = None  # None: by device
    method: str = "area"
    tolerance: int = 4
    shard: tuple[int, int] = (0, 1)
    keep_native: bool = False
    save_dtype: str = "float32"
    overwrite: bool = False
    pitch: PitchSettings | None = None  # OUT/pitches + OUT/uvs on the mel grid
    write_energy: bool = False  # OUT/energys from the mel (Amphion's from_mel)
    write_stats: bool = False  # dataset statistics once every uid has its mel
    amphion_fragment: bool = False  # OUT/svcprep_amphion.json
    profile: bool = False  # print where the wall time went
    ray: Any = None  # svcprep.pipeline.ray_backend.RayOptions: run on a Ray cluster (--backend ray)

    @property
    def computes_mel(self) -> bool:
        """The decode stage computes the mel (to save it, or to derive energy from it)."""
        return self.write_mels or self.write_energy

    def __post_init__(self) -> None:
        k, n = self.shard
        if not (isinstance(k, int) and isinstance(n, int) and 0 <= k < n):
            raise ConfigError(f"{k}/{n}: need 0 <= K < N (K counts from 0)", "shard")
        _choice("save_dtype", self.save_dtype, SAVE_DTYPES)
        _choice("dtype", self.dtype, MODEL_DTYPES)
        _choice("method", self.method, METHODS)
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ConfigError(f"expected auto, cpu, cuda or cuda:N, got {self.device!r}", "device")
        if self.batch_seconds is not None:
            _number("batch_seconds", self.batch_seconds)  # 0: one file per model call
        if self.num_workers is not None:
            _number("num_workers", self.num_workers, integer=True)
        _number("tolerance", self.tolerance, integer=True)
        for name in ("write_mels", "keep_native", "overwrite", "write_energy", "write_stats", "amphion_fragment",
                     "profile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"expected true or false, got {getattr(self, name)!r}", name)
        if self.pitch is not None and not isinstance(self.pitch, PitchSettings):
            raise ConfigError(f"expected pitch settings, got {self.pitch!r}", "pitch")
        if not (self.write_mels or self.extractors or self.pitch or self.write_energy):
            raise ConfigError("nothing to do: no mels, pitch, energy or extractors", "extractors")
        if self.write_stats and not self.write_mels:
            raise ConfigError("statistics are computed from the mels of this run: set mels: true", "stats")
        if self.amphion_fragment and not (self.write_mels and self.pitch and self.write_energy and self.keep_native):
            raise ConfigError("the Amphion config fragment describes a complete dataset: it needs mels, pitch, "
                              "energy and keep_native (Amphion aligns native-rate content itself)", "amphion")
        names = [e.out_name for e in self.extractors]
        reserved = set(RESERVED_OUTPUTS) | {f"{n}_native" for n in names}
        if len(set(names)) != len(names) or reserved & set(names):
            raise ConfigError(f"two outputs share a directory name: {names}; set feature_name to tell them apart",
                              "extractors")
        for ec in self.extractors:
            if ec.settings.get("output") == "codes" and self.method in ("area", "linear"):
                raise ConfigError(f"{ec.out_name}: integer outputs (codes) cannot be averaged by method "
                                  f"{self.method!r}; use --method nearest or repeat", "method")


# -- run configs (YAML) ------------------------------------------------------------------------------
RUN_KEYS = {"corpus", "out", "preset", "mels", "extractors", "device", "dtype", "batch_seconds", "num_workers",
            "method", "tolerance", "keep_native", "save_dtype", "pitch", "energy", "stats", "amphion"}
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
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name_or_path}: invalid YAML ({exc})") from exc
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
        extractors.append(ExtractorConfig(str(item["name"]), _model(item.get("model"), base), item.get("options") or {},
                                          item.get("feature_name")))
    values: dict[str, Any] = {
        "corpus": _path(data["corpus"], base) if data.get("corpus") else None,
        "out": _path(data["out"], base) if data.get("out") else None,
        "preset": load_preset(str(data.get("preset", "amphion-svc-24k"))),
        "write_mels": data.get("mels", True),
        "extractors": tuple(extractors),
        "pitch": pitch_settings_from_dict(data["pitch"]) if data.get("pitch") else None,
        "write_energy": data.get("energy", False),
        "write_stats": data.get("stats", False),
        "amphion_fragment": data.get("amphion", False),
    }
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    values.update({k: data[k] for k in RUN_KEYS & fields if k in data and k not in values})
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("corpus") is None:
        raise ConfigError("run config: no corpus (set 'corpus:' or pass --corpus)")
    return PipelineConfig(**values)
