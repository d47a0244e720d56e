"""Dataset statistics in Amphion's files and formats, computed from the files of a finished output dir.

- ``mel_min_max_stats/mel_{min,max}.npy``: per mel bin, the min / max over every frame of every uid.
- ``pitches/statistics.json``: per ``"<dataset>_<singer>"``, ``voiced_positions`` (F0 != 0) and
  ``total_positions`` (every frame) → mean, std, median, min, max, as Amphion's ``cal_pitch_statistics_svc``.
- ``singers.json`` (``"<dataset>_<singer>"`` → id, sorted) and ``utt2singer``
  (``"<dataset>_<uid>\\t<dataset>_<singer>"`` lines), written only when absent; an existing table must name
  every singer of the corpus.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svcprep.errors import ConfigError
from svcprep.pipeline.corpus import Corpus, CorpusEntry
from svcprep.pipeline.layout import MELS, PITCHES, OutputLayout
from svcprep.pipeline.storage import atomic_save_npy, atomic_write_text
from svcprep.presets import MelPreset


def singer_key(entry: CorpusEntry) -> str:
    return f"{entry.dataset}_{entry.singer}"


def utterance_key(entry: CorpusEntry) -> str:
    return f"{entry.dataset}_{entry.uid}"


@dataclass
class StatsReport:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    num_mels: int = 0
    num_pitches: int = 0
    missing_mels: list[str] = field(default_factory=list)
    singers_without_voice: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"statistics over {self.num_mels} mels and {self.num_pitches} pitch tracks"]
        lines += [f"  wrote {p}" for p in self.written]
        lines += [f"  kept existing {p}" for p in self.kept]
        if self.missing_mels:
            lines.append(f"  {len(self.missing_mels)} utterance(s) have no mel (failed, or shards still running), "
                         f"e.g. {self.missing_mels[0]}")
        if self.singers_without_voice:
            lines.append(f"  no voiced frame for {', '.join(self.singers_without_voice)}: "
                         "their voiced statistics are null")
        return "\n".join(lines)


def _summary(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return dict.fromkeys(("mean", "std", "median", "min", "max"))
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "median": float(np.median(values)),
            "min": float(np.min(values)), "max": float(np.max(values))}


def _singer_table(layout: OutputLayout, corpus: Corpus, report: StatsReport) -> None:
    keys = sorted({singer_key(e) for e in corpus.entries})
    if layout.singers.is_file():
        try:
            table = json.loads(layout.singers.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{layout.singers}: invalid JSON ({exc}); delete it to let svcprep write it") from exc
        absent = [k for k in keys if k not in table]
        if absent:
            raise ConfigError(f"{layout.singers} lacks {', '.join(absent[:5])}: add them, or delete the file "
                              "to let svcprep write it")
        report.kept.append(layout.singers)
    else:
        atomic_write_text(layout.singers, json.dumps({k: i for i, k in enumerate(keys)}, indent=4,
                                                     ensure_ascii=False) + "\n", layout.temp_dir)
        report.written.append(layout.singers)
    if layout.utt2singer.is_file():
        report.kept.append(layout.utt2singer)
    else:
        lines = "".join(f"{utterance_key(e)}\t{singer_key(e)}\n" for e in corpus.entries)
        atomic_write_text(layout.utt2singer, lines, layout.temp_dir)
        report.written.append(layout.utt2singer)


def _mel_extrema(layout: OutputLayout, corpus: Corpus, preset: MelPreset, report: StatsReport) -> None:
    low = high = None
    for entry in corpus.entries:
        path = layout.file(MELS, entry.uid)
        if not path.is_file():
            report.missing_mels.append(entry.uid)
            continue
        mel = np.load(path)
        frames_axis = preset.time_axis
        if mel.ndim != 2 or mel.shape[1 - frames_axis] != preset.n_mels:
            raise ConfigError(f"{path}: shape {mel.shape} is not a {preset.n_mels}-bin mel of preset {preset.name}")
        lo, hi = mel.min(axis=frames_axis), mel.max(axis=frames_axis)
        low = lo if low is None else np.minimum(low, lo)
        high = hi if high is None else np.maximum(high, hi)
        report.num_mels += 1
    if low is None:
        raise ConfigError(f"{layout.output_dir(MELS)}: no mel of this corpus found; compute the mels first")
    for which, values in (("min", low), ("max", high)):
        atomic_save_npy(layout.mel_extremum(which), values, layout.temp_dir)
        report.written.append(layout.mel_extremum(which))


def _pitch_statistics(layout: OutputLayout, corpus: Corpus, report: StatsReport) -> None:
    voiced: dict[str, list[np.ndarray]] = defaultdict(list)
    total: dict[str, list[np.ndarray]] = defaultdict(list)
    for entry in corpus.entries:
        path = layout.file(PITCHES, entry.uid)
        if not path.is_file():
            continue
        f0 = np.load(path).astype(np.float64)
        total[singer_key(entry)].append(f0)
        voiced[singer_key(entry)].append(f0[f0 != 0])
        report.num_pitches += 1
    statistics = {}
    for key in sorted(total):
        voiced_values = np.concatenate(voiced[key])
        if voiced_values.size == 0:
            report.singers_without_voice.append(key)
        statistics[key] = {"voiced_positions": _summary(voiced_values),
                           "total_positions": _summary(np.concatenate(total[key]))}
    atomic_write_text(layout.pitch_statistics, json.dumps(statistics, indent=4, ensure_ascii=False) + "\n",
                      layout.temp_dir)
    report.written.append(layout.pitch_statistics)


def write_dataset_statistics(out: Path, corpus: Corpus, preset: MelPreset, *, pitch: bool) -> StatsReport:
    """Every statistics file Amphion's SVC recipes read, from the files under ``out``."""
    layout = OutputLayout(out)
    report = StatsReport()
    _singer_table(layout, corpus, report)
    _mel_extrema(layout, corpus, preset, report)
    if pitch:
        _pitch_statistics(layout, corpus, report)
    return report
