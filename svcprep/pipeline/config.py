"""What a run does, validated where it is made: before any model loads or any file is written.

:class:`RunConfig` holds how a run executes (corpus, corpus stages, output root, device, batching, shards, backend) and
the recipes it writes; each recipe validates its own settings (:mod:`svcprep.recipes`). Errors name the parameter
(``batch_seconds``); the CLI shows the flag (``--batch-seconds``). Run YAML files are read by
:func:`run_config_from_files`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from svcprep.audio.slicing import slice_settings_from
from svcprep.corpus.separation import SeparationChain, separation_from_config
from svcprep.corpus.slicing import SliceStage
from svcprep.corpus.stages import STAGES, StageChain, stage_from_config
from svcprep.errors import ConfigError
from svcprep.recipes import builtin_configs, recipe_from_dict
from svcprep.recipes.settings import check_bool, check_choice, check_number, config_path
from svcprep.store.sink import SINKS

MODEL_DTYPES = ("float32", "float16", "bfloat16")
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")
MAX_NUM_WORKERS = 64


@dataclass(frozen=True)
class RunConfig:
    """How a run executes, and the recipes it writes (one output root each; several share one pass)."""

    corpus: Path
    out: Path | None
    recipes: tuple[Any, ...]
    labels: tuple[str, ...] = ()  # sub-dir of each recipe when there are several (default: recipe names)
    device: str = "auto"
    dtype: str = "float32"
    batch_seconds: float | None = None  # None: by device (see svcprep.pipeline.device_defaults)
    num_workers: int | None = None  # None: by device
    shard: tuple[int, int] = (0, 1)
    overwrite: bool = False
    profile: bool = False
    ray: Any = None  # svcprep.pipeline.ray_backend.RayOptions: run on a Ray cluster (--backend ray)
    stages: StageChain | None = None  # corpus stages before the outputs (slicing, ...), in order
    storage: str = "files"  # the sink of every output root (svcprep.store.sink.SINKS)
    separation: SeparationChain | None = None  # separators run over every song before the stages
    # A whole file longer than this is computed a window at a time (None: never); see svcprep.pipeline.streamed.
    stream_seconds: float | None = 600.0

    def __post_init__(self) -> None:
        k, n = self.shard
        if not (isinstance(k, int) and isinstance(n, int) and 0 <= k < n):
            raise ConfigError(f"{k}/{n}: need 0 <= K < N (K counts from 0)", "shard")
        check_choice("dtype", self.dtype, MODEL_DTYPES)
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ConfigError(f"expected auto, cpu, cuda or cuda:N, got {self.device!r}", "device")
        if self.batch_seconds is not None:
            check_number("batch_seconds", self.batch_seconds)  # 0: one file per model call
            if self.batch_seconds > 24 * 3600:
                raise ConfigError(f"{self.batch_seconds} s per batch is more than a day of audio", "batch_seconds")
        if self.num_workers is not None:
            check_number("num_workers", self.num_workers, integer=True)
            if self.num_workers > MAX_NUM_WORKERS:
                raise ConfigError(f"at most {MAX_NUM_WORKERS} decode workers, got {self.num_workers}", "num_workers")
        if self.stream_seconds is not None:
            check_number("stream_seconds", self.stream_seconds)
        for name in ("overwrite", "profile"):
            check_bool(name, getattr(self, name))

        check_choice("storage", self.storage, tuple(SINKS))
        if not self.recipes:
            raise ConfigError("nothing to do: no recipe", "config")
        labels = self.recipe_labels
        if len(set(labels)) != len(labels):
            raise ConfigError(f"two recipes share the output dir name {labels}; give each config its own name",
                              "config")

    @property
    def recipe_labels(self) -> tuple[str, ...]:
        return self.labels or tuple(r.name for r in self.recipes)


# -- run configs (YAML) ------------------------------------------------------------------------------
RUN_KEYS = ("corpus", "out", "device", "dtype", "batch_seconds", "num_workers", "slice", "stages", "storage",
            "separate", "stream_seconds")


def read_run_config(name_or_path: str) -> tuple[dict[str, Any], Path, str]:
    """The YAML mapping, the dir its relative paths are relative to, and its label (the file's stem)."""
    path = Path(name_or_path)
    if path.is_file():
        text, base, label = path.read_text(encoding="utf-8"), path.resolve().parent, path.stem
    else:
        resource = resources.files("svcprep.configs") / f"{name_or_path}.yaml"
        if not resource.is_file() or "recipe" not in (yaml.safe_load(resource.read_text(encoding="utf-8")) or {}):
            raise ConfigError(f"run config {name_or_path!r} is neither a file nor a built-in config "
                              f"({', '.join(builtin_configs())})")
        text, base, label = resource.read_text(encoding="utf-8"), Path.cwd(), name_or_path
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer past Python's digit limit
        raise ConfigError(f"{name_or_path}: invalid YAML ({str(exc).splitlines()[0][:200]})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{name_or_path}: not a run config (expected a mapping with 'recipe:' and its settings)")
    return data, base, label


def stages_list(value: Any) -> list[tuple[str, Any]]:
    """``stages:`` of a run config: a list of one-key mappings (``- slice: rvc``) or of stage names."""
    if not isinstance(value, list):
        raise ConfigError(f"expected a list of stages (- slice: rvc), got {value!r}", "stages")
    steps = []
    for item in value:
        if isinstance(item, str):
            steps.append((item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            steps.append(next(iter(item.items())))
        else:
            raise ConfigError(f"each stage is a name or a one-key mapping (- slice: rvc), got {item!r}", "stages")
    return steps


def run_config_from_files(configs: list[tuple[dict[str, Any], Path, str]], *, model_paths: dict[str, str],
                          options: dict[str, dict], **overrides: Any) -> RunConfig:
    """A run of one recipe per config; run keys (corpus, out, ...) must agree between configs unless given as
    ``overrides`` (the command line). ``model_paths``/``options`` (``--model``/``--set``) reach every recipe."""

    recipes, labels, run_values = [], [], {}
    for data, base, label in configs:
        recipe_data = {k: v for k, v in data.items() if k not in RUN_KEYS}
        recipe = recipe_from_dict(recipe_data, base, model_paths=model_paths, options=options, source=label)
        recipes.append(recipe)
        labels.append(label)
        for key in RUN_KEYS:
            if key not in data:
                continue
            value = config_path(data[key], base) if key in ("corpus", "out") and data[key] else data[key]
            if key == "separate" and value is not None:
                value = separation_from_config(value, base)  # paths relative to the config that names them
            if key in run_values and run_values[key] != value and overrides.get(key) is None:
                if key in ("slice", "stages", "separate"):
                    raise ConfigError(f"the configs disagree on {key!r} ({run_values[key]!r} vs {value!r}): the "
                                      "recipes of one run share its corpus stages; give every config the same "
                                      f"'{key}:', or run them separately", key)
                raise ConfigError(f"the configs disagree on {key!r} ({run_values[key]!r} vs {value!r}); "
                                  f"give it on the command line", key)
            run_values[key] = value
    unused = (set(model_paths) | set(options)) - set(STAGES)
    for recipe in recipes:
        unused -= set(recipe.option_names())
    if unused:
        raise ConfigError(f"--model/--set name things no recipe of this run uses: {', '.join(sorted(unused))}")
    values = {**run_values, **{k: v for k, v in overrides.items() if v is not None}}
    slice_value = values.pop("slice", None)
    if slice_value is None and "slice" in options and not any(getattr(r, "default_slicing", None) for r in recipes):
        slice_value = {}  # --set slice.KEY=VALUE alone: slicing with the default settings, changed by those keys
    if slice_value is None:
        slicing = {r.name: r.default_slicing for r in recipes if getattr(r, "default_slicing", None)}
        if len({json.dumps(v.to_dict(), sort_keys=True) for v in slicing.values()}) > 1:
            raise ConfigError(f"{' and '.join(slicing)} cut takes into pieces their own ways, and the recipes of one "
                              "run share its pieces: give one 'slice:' (a preset, e.g. slice: rvc) that suits "
                              "every tree, or run them separately", "slice")
        slice_value = next(iter(slicing.values()), None)
    separation = values.pop("separate", None)
    if separation is not None:
        values["separation"] = separation
    stages_value = values.pop("stages", None)
    if stages_value is not None and slice_value is not None:
        raise ConfigError("give slicing once: as 'slice:' or as a step of 'stages:'", "stages")
    steps = stages_list(stages_value) if stages_value is not None else \
        [("slice", slice_value)] if slice_value is not None else []
    stages = []
    for name, value in steps:
        stage = stage_from_config(name, value, options.get(name, {}))
        if isinstance(stage, SliceStage) and stage.slice_settings.sample_rate is None:
            rates = {r.name: r.default_slicing.sample_rate for r in recipes if getattr(r, "default_slicing", None)}
            if len(set(rates.values())) > 1:
                listed = ", ".join(f"{name} {rate} Hz" for name, rate in rates.items())
                raise ConfigError(f"the run's slicing would have to guess its rate from one recipe ({listed}); set "
                                  "slice.sample_rate, or run them separately", "slice")
            if rates and len(rates) < len(recipes):
                others = ", ".join(r.name for r in recipes if r.name not in rates)
                listed = ", ".join(f"{name} {rate} Hz" for name, rate in rates.items())
                raise ConfigError(f"slice.sample_rate is not set, and the run's slicing would take it from one "
                                  f"recipe ({listed}) while {others} would slice alone at the take's own rate: set "
                                  "slice.sample_rate, so that every tree's pieces are the same alone and together",
                                  "slice")
            if rates:  # a recipe that trains at one rate slices at it
                stage = SliceStage(slice_settings_from(stage.slice_settings, {"sample_rate": rates.popitem()[1]}))
        stages.append(stage)
    if stages:
        values["stages"] = StageChain(tuple(stages))
    if values.get("corpus") is None:
        raise ConfigError("no corpus (set 'corpus:' or pass --corpus)", "corpus")
    values.setdefault("out", None)
    return RunConfig(recipes=tuple(recipes), labels=tuple(labels) if len(recipes) > 1 else (), **values)
