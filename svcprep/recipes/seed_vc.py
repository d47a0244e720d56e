"""Seed-VC (zero-shot SVC, fine-tuned with ``train.py --dataset-dir OUT --config OUT/<preset>.yml``): a folder of
clips its ``FT_Dataset`` trains on as they are, cut from raw takes and songs at their silences::

    OUT/<speaker>/<take>_<piece>.wav     mono float32 at the preset's rate (44.1 kHz for SVC), 1-30 s each
    OUT/<preset file>.yml                the preset as its fine-tuning loads it (both spect_params spellings)

Nothing else under OUT is audio: Seed-VC trains on every audio file below ``--dataset-dir`` and swaps a clip
outside 1-30 s (or one it cannot load) for a random other clip without failing. Takes are sliced at their
silences (silences over 0.3 s at -40 dB; stretches over 30 s cut into 30 s pieces) and pieces under 1 s dropped; a
take that leaves no piece is reported with the reason, and the summary counts what was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from svcprep.audio.io import Audio, resample, seconds_or_zero, to_channels
from svcprep.audio.slicing import slice_settings_from
from svcprep.audio.views import View
from svcprep.corpus.scan import Corpus
from svcprep.errors import AudioLoadError
from svcprep.outputs.base import AudioRequest
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.recipes.base import Recipe, RecipeContext
from svcprep.recipes.seed_vc_files import (
    DEFAULT_PRESET,
    MAX_SECONDS,
    MIN_SECONDS,
    check_clips,
    loadable_config,
    preset,
    sample_rate_of,
)
from svcprep.recipes.speakers import NameTable, SpeakerDirNaming, name_table
from svcprep.store.naming import Naming

NAME = "seed-vc"
HEADROOM_PEAK = 0.99  # a clip peaking above full scale is scaled to this (Seed-VC warns on |x| > 1)
# Where takes are cut: silences of at least 0.3 s under -40 dB once a piece is 3 s long, at most 0.3 s of each
# silence kept; stretches longer than 30 s cut into 30 s pieces; pieces outside Seed-VC's 1-30 s dropped.
SLICING = dict(threshold_db=-40.0, min_length_ms=3000, min_interval_ms=300, hop_ms=10, max_sil_kept_ms=300,
               piece_seconds=MAX_SECONDS, overlap_seconds=0.0, min_piece_seconds=MIN_SECONDS,
               max_piece_seconds=MAX_SECONDS)


@dataclass(frozen=True)
class SeedVcView(View):
    """What ``librosa.load(path, sr=preset rate)`` gives back: mono, at the preset's rate (librosa's length); a
    piece peaking above full scale scaled to 0.99."""

    name = "seed-vc"
    sample_rate: int = 44100

    def base(self, source: Audio) -> Audio:
        wav = resample(to_channels(source, 1), source.sample_rate, self.sample_rate, "librosa")
        peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
        if peak > 1.0:
            wav = (wav * np.float32(HEADROOM_PEAK / peak)).astype(np.float32)
        return Audio(wav[:, None], self.sample_rate)


@dataclass(frozen=True)
class SeedClip(StoredAudio):
    """A clip as Seed-VC trains on it; one outside 1-30 s at the preset's rate fails (its loader would swap it)."""

    def decode(self, clip: Any):
        num_samples, rate = clip.length(self.audio), self.audio.sample_rate
        if not MIN_SECONDS * rate <= num_samples <= MAX_SECONDS * rate:
            raise AudioLoadError(f"{num_samples / rate:.2f} s: Seed-VC trains on clips of {MIN_SECONDS:g}-"
                                 f"{MAX_SECONDS:g} s (set a slice: stage for longer takes)")
        return super().decode(clip)


@dataclass(frozen=True)
class SeedVcRecipe(Recipe):
    name = NAME
    whole_uids = True  # its trainer reads every file of the folder
    preset: str = DEFAULT_PRESET

    def __post_init__(self) -> None:
        preset(self.preset)  # a name it ships, or a usage error naming those it does

    @property
    def sample_rate(self) -> int:
        return sample_rate_of(self.preset)

    @property
    def default_slicing(self):
        return slice_settings_from({**SLICING, "sample_rate": self.sample_rate})

    def option_names(self) -> set[str]:
        return {self.name}

    @classmethod
    def from_settings(cls, data: dict[str, Any], base, *, model_paths: dict[str, str],
                      options: dict[str, dict]) -> SeedVcRecipe:
        values = {**data, **options.get(NAME, {})}
        cls.check_keys(values)
        return cls(**values)

    def naming(self, corpus: Corpus) -> Naming:
        return SpeakerDirNaming(name_table(corpus, NAME))

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        return {"names": ctx.sink.naming.table.to_json(), "preset": self.preset}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return SpeakerDirNaming(NameTable.from_json(data.get("names", {})))

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        record = records.get("clip")
        if record is None:
            return [(NAME, "the clips have no record")]
        owned = {tree.root / tree.sink.location(record.files[0], tree.id_of(uid), relative=True)
                 for uid in tree.finished_in_all([record])}
        return check_clips(tree.root, owned, int(record.settings["sample_rate"]))

    def outputs(self, ctx: RecipeContext) -> list:
        view = SeedVcView(self.sample_rate)
        return [SeedClip("clip", AudioRequest(self.sample_rate, 1, view, "librosa"), "wav_float32")]

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        done = ctx.done_uids(outputs)
        file_name = preset(self.preset)["file"]
        tree.write_text(file_name, yaml.safe_dump(loadable_config(self.preset), sort_keys=False))
        with_clips = {ctx.entries[uid].id.source for uid in done}
        dropped = [entry for entry in ctx.corpus.entries if entry.uid not in with_clips]
        notes = [f"Seed-VC: {len(done)} clip(s) of {MIN_SECONDS:g}-{MAX_SECONDS:g} s in {tree.root}; fine-tune "
                 f"with train.py --dataset-dir {tree.root} --config {tree.sink.dataset_location(file_name)}"]
        if dropped:
            lost = sum(seconds_or_zero(entry.path) for entry in dropped)
            notes.append(f"Seed-VC: {len(dropped)} take(s), {lost:.1f} s in all, gave no clip (under "
                         f"{MIN_SECONDS:g} s, silent, or failed: see _failures.jsonl)")
        return notes

