"""Amphion's dataset-level files, from the files of a finished output root (read through its sink and bookkeeping):
the helper module of the Amphion recipe.

- ``mel_min_max_stats/mel_{min,max}.npy``: per mel bin, the min / max over every frame of every uid.
- ``pitches/statistics.json``: per ``"<dataset>_<singer>"``, ``voiced_positions`` (F0 != 0) and
  ``total_positions`` (every frame) → mean, std, median, min, max, as Amphion's ``cal_pitch_statistics_svc``.
- ``singers.json`` (``"<dataset>_<singer>"`` → id, sorted) and ``utt2singer``
  (``"<dataset>_<uid>\\t<dataset>_<singer>"`` lines), written only when absent; an existing table must name
  every singer of the corpus.
- ``svcprep_amphion.json``: the part of an exp_config that makes Amphion's loaders read these files.

Only uids finished under the current settings (in the done-lists, files present) are counted: a file left by
an older run, or one that failed, never enters the statistics.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from svcprep.audio.presets import MelPreset
from svcprep.corpus.scan import Corpus, CorpusEntry
from svcprep.errors import ConfigError
from svcprep.outputs.features import NativeFeature
from svcprep.store.tree import OutputTree

MELS, PITCHES, UVS, ENERGYS, MEL_STATS = "mels", "pitches", "uvs", "energys", "mel_min_max_stats"
PITCH_STATISTICS = f"{PITCHES}/statistics.json"
SINGERS, UTT2SINGER, FRAGMENT = "singers.json", "utt2singer", "svcprep_amphion.json"
STAT_NAMES = ("mean", "std", "median", "min", "max")


def singer_key(entry: CorpusEntry) -> str:
    return f"{entry.dataset}_{entry.singer}"


def utterance_key(entry: CorpusEntry) -> str:
    return f"{entry.dataset}_{entry.uid}"


def mel_extremum(which: str) -> str:
    return f"{MEL_STATS}/mel_{which}.npy"


@dataclass
class StatsReport:
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    num_mels: int = 0
    num_pitches: int = 0
    missing_mels: list[str] = field(default_factory=list)
    singers_without_voice: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"statistics over {self.num_mels} mels and {self.num_pitches} pitch tracks"]
        lines += [f"  wrote {p}" for p in self.written]
        lines += [f"  kept existing {p}" for p in self.kept]
        if self.missing_mels:
            lines.append(f"  {len(self.missing_mels)} utterance(s) have no finished mel (failed, or shards still "
                         f"running), e.g. {self.missing_mels[0]}")
        if self.singers_without_voice:
            lines.append(f"  no voiced frame for {', '.join(self.singers_without_voice)}: "
                         "their voiced statistics are null")
        return "\n".join(lines)


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return dict.fromkeys(STAT_NAMES)
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "median": float(np.median(values)),
            "min": float(np.min(values)), "max": float(np.max(values))}


def _finished(tree: OutputTree, output: str) -> tuple[dict[str, Any], Any]:
    """The done entries of ``output`` under its recorded settings, and that record."""
    record = tree.bookkeeping.read_record(output)
    if record is None:
        return {}, None
    return tree.bookkeeping.done_list(record, "read").load(), record


def _singer_table(tree: OutputTree, corpus: Corpus, report: StatsReport) -> None:
    keys = sorted({singer_key(e) for e in corpus.entries})
    if tree.sink.has_dataset_file(SINGERS):
        try:
            table = tree.sink.read_dataset_file(SINGERS, "json")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{tree.sink.dataset_location(SINGERS)}: invalid JSON ({exc}); delete it to let svcprep "
                              "write it") from exc
        absent = [k for k in keys if k not in table]
        if absent:
            raise ConfigError(f"{tree.sink.dataset_location(SINGERS)} lacks {', '.join(absent[:5])}: add them, or "
                              "delete the file to let svcprep write it")
        report.kept.append(SINGERS)
    else:
        tree.write_dataset_file(SINGERS, "json", {k: i for i, k in enumerate(keys)})
        report.written.append(SINGERS)
    if tree.sink.has_dataset_file(UTT2SINGER):
        report.kept.append(UTT2SINGER)
    else:
        tree.write_text(UTT2SINGER, "".join(f"{utterance_key(e)}\t{singer_key(e)}\n" for e in corpus.entries))
        report.written.append(UTT2SINGER)


def mel_extrema(tree: OutputTree, uids: list[str], preset: MelPreset) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-bin min and max over every frame of the given uids' mels, read one at a time."""
    done, record = _finished(tree, MELS)
    if record is None:
        raise ConfigError(f"{tree.root / MELS}: no svcprep mels here; compute the mels first")
    file = record.file(MELS)
    low = high = None
    count = 0
    for uid in uids:
        id = tree.id_of(uid)
        if uid not in done or not tree.sink.exists(file, id):
            continue
        mel = tree.sink.read(file, id)
        if mel.ndim != 2 or mel.shape[1 - preset.time_axis] != preset.n_mels:
            raise ConfigError(f"{tree.sink.describe(file, id)}: shape {mel.shape} is not a {preset.n_mels}-bin mel "
                              f"of preset {preset.name}")
        lo, hi = mel.min(axis=preset.time_axis), mel.max(axis=preset.time_axis)
        low = lo if low is None else np.minimum(low, lo)
        high = hi if high is None else np.maximum(high, hi)
        count += 1
    if low is None:
        raise ConfigError(f"{tree.root / MELS}: no finished mel of this corpus found; compute the mels first")
    return low, high, count


def _mel_statistics(tree: OutputTree, corpus: Corpus, preset: MelPreset, report: StatsReport) -> None:
    done, _ = _finished(tree, MELS)
    report.missing_mels = [e.uid for e in corpus.entries if e.uid not in done]
    low, high, report.num_mels = mel_extrema(tree, [e.uid for e in corpus.entries], preset)
    for which, values in (("min", low), ("max", high)):
        tree.write_dataset_file(mel_extremum(which), "npy", values)
        report.written.append(mel_extremum(which))


def pitch_statistics(tree: OutputTree, entries: list[CorpusEntry]) -> tuple[dict[str, Any], int]:
    """Amphion's ``statistics.json`` content over the finished pitch tracks of ``entries``."""
    done, record = _finished(tree, PITCHES)
    voiced: dict[str, list[np.ndarray]] = defaultdict(list)
    total: dict[str, list[np.ndarray]] = defaultdict(list)
    count = 0
    for entry in entries:
        if record is None or entry.uid not in done or not tree.sink.exists(record.file(PITCHES), tree.id_of(entry.uid)):
            continue
        f0 = tree.sink.read(record.file(PITCHES), tree.id_of(entry.uid)).astype(np.float64)
        total[singer_key(entry)].append(f0)
        voiced[singer_key(entry)].append(f0[f0 != 0])
        count += 1
    statistics = {key: {"voiced_positions": _summary(np.concatenate(voiced[key])),
                        "total_positions": _summary(np.concatenate(total[key]))} for key in sorted(total)}
    return statistics, count


def write_statistics(tree: OutputTree, corpus: Corpus, preset: MelPreset, *, pitch: bool) -> StatsReport:
    """Every statistics file Amphion's SVC recipes read, from the finished files of ``tree``."""
    report = StatsReport()
    _singer_table(tree, corpus, report)
    _mel_statistics(tree, corpus, preset, report)
    if pitch:
        statistics, report.num_pitches = pitch_statistics(tree, list(corpus.entries))
        report.singers_without_voice = [k for k, v in statistics.items() if v["voiced_positions"]["mean"] is None]
        tree.write_dataset_file(PITCH_STATISTICS, "json", statistics)
        report.written.append(PITCH_STATISTICS)
    return report


def verify_statistics(tree: OutputTree, records: dict) -> list[tuple[str, str]]:
    """``mel_min_max_stats`` equals the extrema of the finished mels; ``statistics.json`` is in Amphion's
    format with finite numbers (that it is unchanged since svcprep wrote it, every dataset file's hash tells)."""
    problems: list[tuple[str, str]] = []
    mel_record = records.get(MELS)
    if tree.sink.has_dataset_file(mel_extremum("min")) and mel_record is not None:
        preset = MelPreset(**{k: v for k, v in mel_record.settings["preset"].items()})
        done, _ = _finished(tree, MELS)
        try:
            low, high, _ = mel_extrema(tree, sorted(done), preset)
            stored = [tree.sink.read_dataset_file(mel_extremum(w), "npy") for w in ("min", "max")]
            if not all(s.shape == r.shape and np.array_equal(s, r) for s, r in zip(stored, (low, high),
                                                                                  strict=True)):
                problems.append((MEL_STATS, "differs from the extrema of the mels (rerun svcprep stats)"))
        except (ConfigError, OSError, ValueError) as exc:
            problems.append((MEL_STATS, f"unreadable or inconsistent: {exc}"))
    if tree.sink.has_dataset_file(PITCH_STATISTICS):
        try:
            statistics = tree.sink.read_dataset_file(PITCH_STATISTICS, "json")
            for singer, parts in statistics.items():
                for part in ("voiced_positions", "total_positions"):
                    values = [parts[part][k] for k in STAT_NAMES]
                    if part == "total_positions" and not all(np.isfinite(v) for v in values):
                        problems.append((singer, f"{part} holds a non-finite value"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            problems.append((PITCH_STATISTICS, f"not in Amphion's format: {exc}"))
    return problems


# -- the config fragment --------------------------------------------------------------------------------
# Amphion's name for a content feature → (frameshift key, downsample key or None).
CONTENT_KEYS = {
    "whisper": ("whisper_frameshift", "whisper_downsample_rate"),
    "contentvec": ("contentvec_frameshift", None),
}


def _frameshift(name: str, native_hop: int, native_rate: int, preset: MelPreset) -> dict[str, Any]:
    """Frameshift values whose product with the mel sample rate is the native period in mel samples."""
    shift_key, downsample_key = CONTENT_KEYS[name]
    period = Fraction(native_hop, native_rate)
    if downsample_key is None:
        values = {shift_key: float(period)}
        product = values[shift_key] * preset.sample_rate
    else:  # whisper: 10 ms mel frames, the encoder halves the rate
        values = {shift_key: float(period / 2), downsample_key: 2}
        product = values[shift_key] * values[downsample_key] * preset.sample_rate
    exact = period * preset.sample_rate
    if exact.denominator != 1 or int(product) != exact:
        raise ConfigError(f"{name}: a native period of {native_hop}/{native_rate} s is {exact} samples at "
                          f"{preset.sample_rate} Hz, which Amphion's int() cannot represent; use another preset")
    return values


def fragment(tree: OutputTree, recipe: Any, content: dict[str, tuple[str, int, int, int]]) -> dict[str, Any]:
    """``content``: Amphion feature name → (native dir name, native hop, native sample rate, dim)."""
    preset, pitch = recipe.preset, recipe.pitch
    if preset.mel_layout != "mels_by_frames":
        raise ConfigError(f"Amphion reads mels saved (n_mels, T); preset {preset.name} saves (T, n_mels)", "preset")
    preprocess: dict[str, Any] = {
        "processed_dir": str(tree.root.resolve().parent),
        "features_extraction_mode": "offline",
        "sample_rate": preset.sample_rate, "hop_size": preset.hop_length, "n_fft": preset.n_fft,
        "win_size": preset.win_length, "n_mel": preset.n_mels, "fmin": preset.fmin, "fmax": preset.fmax,
        "mel_dir": MELS, "pitch_dir": PITCHES, "uv_dir": UVS, "energy_dir": ENERGYS,
        "mel_min_max_stats_dir": MEL_STATS,
        "use_mel": True, "use_min_max_norm_mel": True, "mel_min_max_norm": True,
        "use_frame_pitch": True, "use_uv": True, "use_frame_energy": True, "use_spkid": True,
        "use_log_scale_pitch": False, "use_log_scale_energy": False, "use_interpolation_for_uv": False,
        "pitch_extractor": pitch.method, "f0_min": pitch.f0_min, "f0_max": pitch.f0_max,
        "energy_extract_mode": "from_mel",
        "spk2id": SINGERS, "utt2spk": UTT2SINGER,
    }
    condition_encoder: dict[str, Any] = {"use_f0": True, "use_uv": True, "use_energy": True, "use_spkid": True}
    for name in CONTENT_KEYS:
        used = name in content
        condition_encoder[f"use_{name}"] = used
        preprocess[f"use_{name}"] = used
        if used:
            native_dir, hop, rate, dim = content[name]
            preprocess[f"{name}_dir"] = native_dir
            preprocess[f"{name}_sample_rate"] = rate
            preprocess.update(_frameshift(name, hop, rate, preset))
            condition_encoder[f"{name}_dim"] = dim
    return {"preprocess": preprocess, "model": {"condition_encoder": condition_encoder}}


def write_fragment(tree: OutputTree, recipe: Any, outputs: list) -> str:
    content, skipped = {}, []
    for config in recipe.extractors:
        name = config.out_name
        native = next((o for o in outputs if isinstance(o, NativeFeature) and o.name == f"{name}_native"), None)
        if name in CONTENT_KEYS and native is not None:
            spec = native.request.spec
            content[name] = (native.name, spec.hop_length, spec.sample_rate, spec.dim)
        else:
            skipped.append(name)
    tree.write_dataset_file(FRAGMENT, "json", fragment(tree, recipe, content))
    note = f"Amphion config fragment: {tree.sink.dataset_location(FRAGMENT)} (merge it over your exp_config)"
    if skipped:
        note += f"; not in it (no Amphion key): {', '.join(skipped)}"
    return note

