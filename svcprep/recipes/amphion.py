"""Amphion's SVC layout (and svcprep's own: ``svcprep mel``, ``pitch`` and ``extract`` write it too)::

    ROOT/mels/<uid>.npy              (n_mels, T) float32 log-mel, or (T, n_mels) as the preset says
    ROOT/pitches/<uid>.npy           (T,) F0 in Hz, 0 = unvoiced (one done-list with uvs/)
    ROOT/uvs/<uid>.npy               (T,) bool, True = voiced (Amphion's convention)
    ROOT/energys/<uid>.npy           (T,) from the mel (Amphion's from_mel)
    ROOT/<feature>/<uid>.npy         (T_mel, D), aligned to the mel frame count
    ROOT/<feature>_native/<uid>.npy  (T_native, D), with keep_native
    ROOT/pitches/statistics.json, ROOT/mel_min_max_stats/mel_{min,max}.npy, ROOT/singers.json, ROOT/utt2singer
    ROOT/svcprep_amphion.json        config fragment to merge over an Amphion exp_config

Every directory holds exactly one file per utterance (Amphion re-extracts a feature whose dir count differs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from svcprep.align.methods import AVERAGING_METHODS, METHODS
from svcprep.audio.presets import MelPreset, load_preset
from svcprep.errors import ConfigError
from svcprep.outputs.base import AudioRequest, ModelRequest
from svcprep.outputs.features import AlignedFeature, NativeFeature
from svcprep.outputs.pitch import PitchOutput
from svcprep.outputs.records import FileRecord, FramesRecord
from svcprep.outputs.spectral import LogMel, MelEnergy, mel_grid
from svcprep.pitch.amphion_grid import amphion_pitch
from svcprep.pitch.settings import PitchSettings
from svcprep.recipes import amphion_files
from svcprep.recipes.base import Recipe, RecipeContext
from svcprep.recipes.settings import (
    SAVE_DTYPES,
    ExtractorConfig,
    check_bool,
    check_choice,
    check_number,
    config_model,
    pitch_from,
)

MELS, PITCHES, UVS, ENERGYS, MEL_STATS = "mels", "pitches", "uvs", "energys", "mel_min_max_stats"
RESERVED = (MELS, PITCHES, UVS, ENERGYS, MEL_STATS)
FRAGMENT = "svcprep_amphion.json"


@dataclass(frozen=True)
class AmphionPitch(PitchOutput):
    """``pitches/`` (F0 in Hz, 0 = unvoiced) and ``uvs/`` (True = voiced). On the ``amphion`` grid: Amphion's
    own call end-padded/cut to the mel length, float64, as Amphion saves it."""

    preset: MelPreset | None = None
    rows_per_frame = True

    @property
    def files(self) -> tuple[FileRecord, ...]:
        dtype = "float64" if self.settings.grid == "amphion" else "float32"
        return (FileRecord(PITCHES, "npy", dtype, "(T,)"), FileRecord(UVS, "npy", "bool", "(T,)"))

    def decode(self, clip: Any) -> Any:
        if self.settings.grid != "amphion":
            return super().decode(clip)

        return amphion_pitch(clip.audio(self.grid.audio), self.preset, self.num_frames(clip), self.settings)

    def files_for(self, f0: np.ndarray) -> dict[str, Any]:
        return {PITCHES: f0, UVS: np.asarray(f0) != 0}


@dataclass(frozen=True)
class AmphionRecipe(Recipe):
    """Amphion's SVC preprocessing. ``fragment`` (YAML ``amphion``) writes ``svcprep_amphion.json``."""

    name = "amphion"
    preset: MelPreset = dataclasses.field(default_factory=lambda: load_preset("amphion-svc-24k"))
    mels: bool = True
    energy: bool = False
    pitch: PitchSettings | None = None
    stats: bool = False
    fragment: bool = False
    extractors: tuple[ExtractorConfig, ...] = ()
    method: str = "area"
    tolerance: int = 4
    keep_native: bool = False
    save_dtype: str = "float32"

    # the run config's key for a field, where the two differ
    CONFIG_KEYS: ClassVar[dict[str, str]] = {"fragment": "amphion"}

    @classmethod
    def settings_keys(cls) -> tuple[str, ...]:
        return tuple(cls.CONFIG_KEYS.get(f.name, f.name) for f in dataclasses.fields(cls))

    @classmethod
    def from_settings(cls, data: dict[str, Any], base: Path, *, model_paths: dict[str, str],
                      options: dict[str, dict]) -> AmphionRecipe:
        cls.check_keys(data)
        values: dict[str, Any] = {
            "preset": load_preset(str(data.get("preset", "amphion-svc-24k"))),
            "extractors": extractors_from_list(data.get("extractors"), base, model_paths, options),
            "pitch": pitch_from(data.get("pitch"), model_paths, options),
            "fragment": data.get("amphion", False),
        }
        for key in ("mels", "energy", "stats", "method", "tolerance", "keep_native", "save_dtype"):
            if key in data:
                values[key] = data[key]
        return cls(**values)

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        return amphion_files.verify_statistics(tree, records)

    def __post_init__(self) -> None:
        check_choice("save_dtype", self.save_dtype, SAVE_DTYPES)
        check_choice("method", self.method, METHODS)
        check_number("tolerance", self.tolerance, integer=True)
        for name in ("mels", "energy", "stats", "fragment", "keep_native"):
            check_bool(name, getattr(self, name))
        if self.pitch is not None and not isinstance(self.pitch, PitchSettings):
            raise ConfigError(f"expected pitch settings, got {self.pitch!r}", "pitch")
        if not (self.mels or self.extractors or self.pitch or self.energy):
            raise ConfigError("nothing to do: no mels, pitch, energy or extractors", "extractors")
        if self.energy and not self.mels:
            raise ConfigError("energy is computed from the mel of the same run: set mels: true", "energy")
        if self.stats and not self.mels:
            raise ConfigError("statistics are computed from the mels of this run: set mels: true", "stats")
        if self.fragment and not (self.mels and self.pitch and self.energy and self.keep_native):
            raise ConfigError("the Amphion config fragment describes a complete dataset: it needs mels, pitch, "
                              "energy and keep_native (Amphion aligns native-rate content itself)", "amphion")
        names = [e.out_name for e in self.extractors]
        reserved = set(RESERVED) | {f"{n}_native" for n in names}
        if len(set(names)) != len(names) or reserved & set(names):
            raise ConfigError(f"two outputs share a directory name: {names}; set feature_name to tell them apart",
                              "extractors")

    # -- what the run computes ------------------------------------------------------------------------
    def option_names(self) -> set[str]:
        names = {e.name for e in self.extractors}
        if self.pitch is not None:
            names |= {"pitch", self.pitch.method}
        return names

    @property
    def mel_file(self) -> FileRecord:
        return LogMel(MELS, self.preset).files[0]

    def mel_frames(self) -> FramesRecord:
        return FramesRecord(MELS, self.preset.time_axis)

    def check(self, ctx: RecipeContext) -> None:
        if self.mels:
            return
        recorded = ctx.tree.bookkeeping.read_record(MELS)
        if recorded is None or "preset" not in recorded.settings:
            return
        ours, theirs = self.preset.to_dict(), recorded.settings["preset"]
        differing = sorted(k for k in ours if k != "name" and ours[k] != theirs.get(k))
        if differing:
            raise ConfigError(
                f"{ctx.tree.root / MELS} was made with preset {theirs.get('name')!r} ({theirs.get('sample_rate')} Hz, "
                f"hop {theirs.get('hop_length')}); this run uses {ours['name']!r} ({ours['sample_rate']} Hz, hop "
                f"{ours['hop_length']}), differing in {', '.join(differing)}: pass the preset the mels were made "
                "with, or redo the mels (svcprep mel --overwrite)", "preset")

    def outputs(self, ctx: RecipeContext) -> list:
        grid = mel_grid(self.preset)
        frames = self.mel_frames()
        existing = None if self.mels else MELS  # features then match the mels already on disk
        outputs: list = []
        if self.mels:
            outputs.append(LogMel(MELS, self.preset))
        if self.energy:
            outputs.append(MelEnergy(ENERGYS, self.preset, frames))
        if self.pitch is not None:
            tracker, sha = None, None
            if self.pitch.on_model_device:
                resolved = ctx.resolve_tracker(self.pitch)
                tracker = ModelRequest(resolved, AudioRequest(resolved.spec.sample_rate, 1, grid.audio.view))
                sha = ctx.fingerprint(resolved.path)
            outputs.append(AmphionPitch(PITCHES, grid, self.pitch, tracker, sha, frames, existing, self.preset))
        for config in self.extractors:
            outputs += feature_outputs(ctx, config, grid, frames, existing, method=self.method,
                                       tolerance=self.tolerance, keep_native=self.keep_native,
                                       save_dtype=self.save_dtype)
        return outputs

    def frames_on_disk(self, ctx: RecipeContext, uids: list[str]) -> dict[str, dict[str, int]]:
        if self.mels:
            return {}
        frames = {}
        for uid in uids:
            if ctx.sink.exists(self.mel_file, ctx.tree.id_of(uid)):
                shape, _ = ctx.sink.header(self.mel_file, ctx.tree.id_of(uid))
                frames[uid] = {MELS: shape[self.preset.time_axis]}
        return frames

    # -- dataset-level files ----------------------------------------------------------------------------
    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        notes = []
        if self.stats:
            missing = [e.uid for e in ctx.corpus.entries if not ctx.sink.exists(self.mel_file, ctx.tree.id_of(e.uid))]
            if missing and not set(missing) <= ctx.failed_uids:
                notes.append(f"statistics: {len(missing)} utterance(s) have no mel yet (other shards still "
                              f"running?); run `svcprep stats {ctx.tree.root}` when every shard is done")
            else:
                notes.append(amphion_files.write_statistics(ctx.tree, ctx.corpus, self.preset,
                                                              pitch=self.pitch is not None).describe())
        if self.fragment:
            notes.append(amphion_files.write_fragment(ctx.tree, self, outputs))
        return notes



def feature_outputs(ctx: RecipeContext, config: ExtractorConfig, grid, frames: FramesRecord | None,
                    frames_file: str | None, *, method: str, tolerance: int, keep_native: bool,
                    save_dtype: str) -> list:
    """An extractor's aligned output (and its native copy): the model resolved, its spec checked against the
    method (integer codes cannot be averaged)."""

    resolved = ctx.resolve_extractor(config)
    spec = resolved.spec
    if spec.integer_output and method in AVERAGING_METHODS:
        raise ConfigError(f"{config.out_name}: integer outputs (codes) cannot be averaged by method {method!r}; "
                          "use --method nearest or repeat", "method")
    request = ModelRequest(resolved, AudioRequest(spec.sample_rate, spec.channels, grid.audio.view))
    sha = ctx.fingerprint(resolved.path)
    outputs: list = [AlignedFeature(config.out_name, request, grid, method, tolerance, save_dtype, ctx.dtype, sha,
                                    frames, frames_file)]
    if keep_native:
        outputs.append(NativeFeature(f"{config.out_name}_native", request, save_dtype, ctx.dtype, sha,
                                     reference_grid=grid, frames=frames, tolerance=tolerance))
    return outputs


EXTRACTOR_KEYS = {"name", "model", "options", "feature_name"}


def extractors_from_list(items: Any, base: Path, model_paths: dict[str, str],
                         options: dict[str, dict]) -> tuple[ExtractorConfig, ...]:
    """``extractors:`` of a run config, with ``--model``/``--set`` applied by extractor name."""
    extractors = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"extractors[{i}] needs a 'name'")
        bad = sorted(set(item) - EXTRACTOR_KEYS)
        if bad:
            raise ConfigError(f"extractors[{i}]: unknown key(s) {', '.join(bad)}; "
                              f"valid: {', '.join(sorted(EXTRACTOR_KEYS))}")
        name = str(item["name"])
        model = model_paths.get(name, item.get("model"))
        model = config_model(model, base if name not in model_paths else Path.cwd())
        merged = {**(item.get("options") or {}), **options.get(name, {})}
        extractors.append(ExtractorConfig(name, model, merged, item.get("feature_name")))
    return tuple(extractors)
