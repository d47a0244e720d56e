"""DDSP-SVC (6.x reflow; master's reflow, diffusion and DDSP trainers): ``data/train`` and ``data/val`` as its own
``preprocess.py`` writes them, with OUT as ``data``::

    OUT/{train,val}/audio/<id>_<speaker>/<name>.wav          float32 44.1 kHz (the audio every file below is from)
    OUT/{train,val}/units/<rel>.npy      (N, D) float32      content on DDSP's frames (its time-nearest rule)
    OUT/{train,val}/f0/<rel>.npy         (N,) Hz             unvoiced frames filled (no zeros)
    OUT/{train,val}/volume/<rel>.npy     (N,)                frame RMS
    OUT/{train,val}/mel/<rel>.npy        (N - 1, 128)        NSF-HiFiGAN log-mel, (T, n_mels)
    OUT/{train,val}/aug_mel/<rel>.npy, aug_vol/<rel>.npy     gain shift (and a key shift in train)
    OUT/{train,val}/pitch_aug_dict.npy   {rel: key shift}
    OUT/svcprep_ddsp.yaml                                    to merge over configs/reflow.yaml

``rel`` = ``<id>_<speaker>/<name>.wav``; ``N = L // 512 + 1`` for the ``L`` samples of the wav, frame i at
``i·512 / 44100`` s. Speaker ids 1..n follow the sorted speaker names. The val split: per speaker with at least
two clips, one clip (a seeded, deterministic choice); a speaker with one clip keeps it in train. A clip with no
voiced frame is recorded as failed and left out of the tree (DDSP-SVC moves such sources to ``skip/``; svcprep
never moves or changes a source file).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from svcprep.align.methods import METHODS
from svcprep.audio.presets import load_preset
from svcprep.audio.views import Resampled
from svcprep.corpus.scan import Corpus
from svcprep.ids import EntryId
from svcprep.outputs.base import AudioRequest, OutputGrid
from svcprep.outputs.features import AlignedFeature
from svcprep.outputs.pitch import PitchOutput
from svcprep.outputs.records import FileRecord
from svcprep.outputs.spectral import Augmentation, AugmentedMelVolume, LogMel, Volume
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.pitch.tracking import fill_unvoiced
from svcprep.recipes.base import RecipeContext, finished_in_all, uid_problems
from svcprep.recipes.content import ContentRecipe
from svcprep.recipes.settings import check_choice, check_number
from svcprep.recipes.speakers import NameTable, name_table, ordered
from svcprep.store.naming import Naming

NAME = "ddsp-svc"
ENCODERS = {"contentvec768l12": ("contentvec-768-l12", 768), "contentvec768": ("contentvec-768-l12", 768),
            "contentvec": ("contentvec-256-l9", 256)}
SPLITS = ("train", "val")
FRAGMENT = "svcprep_ddsp.yaml"


@dataclass(frozen=True)
class DdspPitch(PitchOutput):
    """``f0/<rel>.npy``: F0 in Hz on DDSP's frames with unvoiced frames filled by linear interpolation (edges
    held); a clip with no voiced frame fails."""

    kind = "pitch_filled"

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("f0", "npy", "float32", "(N,)"),)

    def files_for(self, f0: np.ndarray) -> dict[str, Any]:
        return {"f0": fill_unvoiced(f0).astype(np.float32)}


@dataclass(frozen=True)
class SplitAugmentation(AugmentedMelVolume):
    """DDSP-SVC's augmentation: the key shift only for train clips (``val`` ones get 0)."""

    val_sources: frozenset = frozenset()

    def keyshift(self, id: EntryId) -> float:
        return 0.0 if id.source in self.val_sources else self.augmentation.keyshift(str(id))


class DdspNaming(Naming):
    """``<split>/<kind>/<id>_<speaker>/<name>.wav[.npy]``."""

    def __init__(self, table: NameTable, val_sources: frozenset) -> None:
        self.table, self.val_sources = table, val_sources
        self.ids = {speaker: i + 1 for i, speaker in enumerate(table.speakers())}

    def split(self, id: EntryId) -> str:
        return "val" if id.source in self.val_sources else "train"

    def rel(self, id: EntryId) -> str:
        speaker, stem = self.table.speaker_and_stem(id)
        return f"{self.ids[speaker]}_{speaker}/{stem}.wav"

    def relative_path(self, file: str, uid: EntryId, suffix: str) -> PurePosixPath:
        rel = self.rel(uid)
        return PurePosixPath(self.split(uid), file, rel if file == "audio" else rel + suffix)

    def uid_of(self, file: str, relative: PurePosixPath, suffix: str) -> EntryId | None:
        parts = relative.parts
        ending = ".wav" if file == "audio" else ".wav" + suffix
        if len(parts) != 4 or parts[0] not in SPLITS or parts[1] != file or not parts[3].endswith(ending):
            return None
        speaker = parts[2].split("_", 1)[1] if "_" in parts[2] else parts[2]
        return self.table.id_of(speaker, parts[3][: -len(ending)])

    def listing_dirs(self, file: str) -> tuple[PurePosixPath, ...]:
        return tuple(PurePosixPath(split, file) for split in SPLITS)


UNTRAINED = ("a val clip but no train clip (the train clips failed, after the val clip was chosen): DDSP-SVC would "
             "not train this speaker; fix or remove the failed clips and rerun")


def untrained_speakers(naming: DdspNaming, ids: list[EntryId]) -> list[str]:
    """Speakers with a finished val clip and no finished train clip."""
    splits: dict[str, set[str]] = {}
    for id in ids:
        splits.setdefault(naming.table.speaker_and_stem(id)[0], set()).add(naming.split(id))
    return sorted(speaker for speaker, found in splits.items() if found == {"val"})


def val_sources(table: NameTable, seed: int) -> frozenset:
    """One seeded clip per speaker that has at least two."""
    by_speaker: dict[str, list[str]] = {}
    for uid, (speaker, _) in table.names.items():
        by_speaker.setdefault(speaker, []).append(uid)
    return frozenset(ordered(uids, seed)[0] for uids in by_speaker.values() if len(uids) >= 2)


@dataclass(frozen=True)
class DdspRecipe(ContentRecipe):
    name = NAME
    whole_uids = True  # its trainer would read a partial utterance
    encoder_key, encoders = "encoder", ENCODERS
    encoder: str = "contentvec768l12"
    method: str = "nearest"
    sample_rate: int = 44100
    block_size: int = 512
    max_keyshift: float = 5.0
    seed: int = 1234

    def __post_init__(self) -> None:
        check_choice("encoder", self.encoder, tuple(ENCODERS))
        check_choice("method", self.method, METHODS)
        for name in ("sample_rate", "block_size"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("max_keyshift", self.max_keyshift)
        check_number("seed", self.seed, integer=True)

    @property
    def view(self) -> Resampled:
        return Resampled(self.sample_rate)

    @property
    def audio(self) -> AudioRequest:
        return AudioRequest(self.sample_rate, 1, self.view, "librosa")

    @property
    def grid(self) -> OutputGrid:
        """``L // 512 + 1`` frames, frame i at ``i·512`` samples (DDSP-SVC's ``n_frames`` and its F0 times)."""
        return OutputGrid(self.audio, self.block_size, True, Fraction(0))

    def naming(self, corpus: Corpus) -> Naming:
        table = name_table(corpus, NAME)
        return DdspNaming(table, val_sources(table, self.seed))

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        naming = ctx.sink.naming
        return {"names": naming.table.to_json(), "val": sorted(naming.val_sources)}

    def layout_settings(self, ctx: RecipeContext) -> dict[str, Any]:
        """Folders are ``<speaker id>_<speaker>``, val clips take no key shift: both depend on the whole corpus."""
        naming = ctx.sink.naming
        return {"speaker_ids": naming.ids, "val": sorted(naming.val_sources)}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return DdspNaming(NameTable.from_json(data.get("names", {})), frozenset(data.get("val", [])))

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        """Shapes DDSP-SVC's loaders never check: units (N, D), f0/volume (N,) with no zero F0, mel (N - 1, 128)."""
        needed = ("audio", "units", "f0", "volume", "mel")
        if not all(n in records for n in needed):
            return [(NAME, "a core output has no record")]

        def check_uid(uid: EntryId) -> str | None:
            length = tree.sink.header(records["audio"].files[0], uid)[0][0]
            frames = length // records["f0"].grid.hop_length + 1
            units = tree.sink.header(records["units"].files[0], uid)[0]
            f0 = tree.sink.read(records["f0"].files[0], uid)
            mel = tree.sink.header(records["mel"].files[0], uid)[0]
            volume = tree.sink.header(records["volume"].files[0], uid)[0]
            if units[0] != frames or f0.shape != (frames,) or volume != (frames,) or mel[0] != frames - 1:
                return (f"shapes units {units}, f0 {f0.shape}, volume {volume}, mel {mel}; expected N = {frames} "
                        "(mel N - 1, as (T, n_mels))")
            return "f0 holds a zero: unvoiced frames must be filled" if (f0 <= 0).any() else None

        finished = finished_in_all(tree, records, needed)
        problems = uid_problems(tree, finished, check_uid)
        for speaker in untrained_speakers(tree.sink.naming, [tree.id_of(uid) for uid in finished]):
            problems.append((speaker, UNTRAINED))
        for split in SPLITS:
            if not tree.sink.has_dataset_file(f"{split}/pitch_aug_dict.npy"):
                problems.append((f"{split}/pitch_aug_dict.npy", "missing: DDSP-SVC's loader reads it"))
        return problems

    def outputs(self, ctx: RecipeContext) -> list:
        grid, frames = self.grid, self.grid.frames_from_audio("audio")
        content, content_sha, tracker, sha = ctx.content_and_pitch(
            self.extractor, self.content_width, lambda rate: AudioRequest(rate, 1, self.view, "librosa"),
            self.pitch, f"encoder {self.encoder}")
        preset = dataclasses.replace(load_preset("nsf-hifigan-44k"), mel_layout="frames_by_mels",
                                     resample_length="librosa")
        mel_frames = dataclasses.replace(frames, plus_one=False)
        return [
            StoredAudio("audio", self.audio, "wav_float32"),
            AlignedFeature("units", content, grid, self.method, 4, "float32", ctx.dtype, content_sha, frames,
                           file="units"),
            DdspPitch("f0", grid, self.pitch, tracker, sha, frames),
            Volume("volume", grid, frames),
            LogMel("mel", preset, self.view, "mel"),
            SplitAugmentation("aug", preset, grid, Augmentation(self.max_keyshift, self.seed), "aug_mel", "aug_vol",
                              view=self.view, frames=mel_frames, val_sources=ctx.sink.naming.val_sources),
        ]

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        import yaml

        tree, naming = ctx.tree, ctx.sink.naming
        complete = ctx.done_uids(outputs)
        augmentation = next(o for o in outputs if isinstance(o, SplitAugmentation))
        tables: dict[str, dict[str, float]] = {split: {} for split in SPLITS}
        for uid in sorted(complete):
            id = ctx.entries[uid].id
            tables[naming.split(id)][naming.rel(id)] = augmentation.keyshift(id)
        untrained = untrained_speakers(naming, [ctx.entries[uid].id for uid in complete])
        for split, table in tables.items():
            tree.write_dataset_file(f"{split}/pitch_aug_dict.npy", "npy_object", table)
        width = self.content_width
        fragment = {
            "data": {"encoder": self.encoder, "encoder_out_channels": width, "encoder_sample_rate": 16000,
                     "encoder_hop_size": 320, "sampling_rate": self.sample_rate, "block_size": self.block_size,
                     "f0_extractor": self.pitch.method, "train_path": tree.sink.dataset_location("train"),
                     "valid_path": tree.sink.dataset_location("val"), "extensions": ["wav"]},
            "model": {"n_spk": len(naming.ids)},
        }
        tree.write_text(FRAGMENT, yaml.safe_dump(fragment, sort_keys=False))
        notes = [f"DDSP-SVC: {len(tables['train'])} train / {len(tables['val'])} val clips; merge "
                 f"{tree.sink.dataset_location(FRAGMENT)} over configs/reflow.yaml"]
        single = [s for s in naming.ids if not any(speaker == s and source in naming.val_sources
                                                   for source, (speaker, _) in naming.table.names.items())]
        if single:
            notes.append(f"DDSP-SVC: speaker(s) with a single clip keep it in train, none in val: {', '.join(single)}")
        if untrained:
            notes.append(f"DDSP-SVC: {', '.join(untrained)}: {UNTRAINED}")
        if self.pitch_note:
            notes.insert(0, self.pitch_note)
        return notes
