"""RVC v2 (and v1): the experiment dir its unmodified ``TextAudioLoaderMultiNSFsid`` and bucket sampler read, from
raw takes, with OUT as RVC's ``logs/<exp>``::

    EXP/0_gt_wavs/<name>.wav        float32 at the model rate: RVC's 48 Hz high-pass, silence slicing, 3.7 s
                                    pieces with 0.3 s overlap (peaks above 2.5 dropped), x / max·0.9·0.75 + 0.25·x
    EXP/1_16k_wavs/<name>.wav       the same piece at 16 kHz
    EXP/2b-f0nsf/<name>.wav.npy     (L16 // 160 + 1,) F0 in Hz on RMVPE's 10 ms frames, 0 = unvoiced
    EXP/2a_f0/<name>.wav.npy        RVC's coarse pitch 1..255 of it
    EXP/3_feature768/<name>.npy     (T50, 768) ContentVec layer 12 (v1: 3_feature256, layer 9 + final_proj)
    EXP/mute/...                    the two "mute" rows' files: silence through the same models
    EXP/filelist.txt                gt|feature|2a|2b|speaker id per piece, plus the two mute rows
    EXP/svcprep_rvc.json            data.sampling_rate etc., to merge over RVC's configs/v1/40k.json (or v2/…)

Slicing is the run's corpus stage (``slice: rvc``); pieces are ``<take uid>/<k>``, named ``<take>_<k>`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any, ClassVar

import numpy as np

from svcprep.audio.io import Audio
from svcprep.audio.slicing import slice_settings_from
from svcprep.audio.views import View
from svcprep.corpus.entries import SyntheticEntry
from svcprep.corpus.scan import Corpus
from svcprep.errors import AudioLoadError, ConfigError
from svcprep.ids import EntryId
from svcprep.outputs.base import AudioRequest, OutputGrid
from svcprep.outputs.features import NativeFeature
from svcprep.outputs.pitch import PitchOutput
from svcprep.outputs.records import FileRecord
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.recipes.base import RecipeContext
from svcprep.recipes.content import ContentRecipe
from svcprep.recipes.rvc_files import (
    FILELIST,
    FRAGMENT,
    MUTE,
    MUTE_ID,
    MUTE_SECONDS,
    check_tree,
    coarse_pitch,
    write_filelist,
)
from svcprep.recipes.settings import check_choice
from svcprep.recipes.speakers import safe_name
from svcprep.store.naming import Naming

NAME = "rvc"
RATES = {40000: 400, 48000: 480, 32000: 320}  # model rate -> hop (RVC's configs)
VERSIONS = {"v2": ("contentvec-768-l12", 768, "3_feature768"), "v1": ("contentvec-256-l9", 256, "3_feature256")}


@dataclass(frozen=True)
class RvcPieceView(View):
    """A piece as RVC writes it: ``x / max|x| · 0.9 · 0.75 + 0.25 · x`` (the piece comes from the slicer, already
    high-passed at the model rate)."""

    name = "rvc"
    reads_slicer_audio: ClassVar[bool] = True  # RVC's high-pass and rate are its slicer's

    def base(self, source: Audio) -> Audio:
        x = source.samples[:, 0].astype(np.float64)
        peak = float(np.max(np.abs(x)))
        if peak == 0:
            raise AudioLoadError("a silent piece: RVC's normalisation would divide by zero")
        return Audio(((x / peak * (0.9 * 0.75)) + 0.25 * x).astype(np.float32)[:, None], source.sample_rate)


@dataclass(frozen=True)
class RvcPitch(PitchOutput):
    """``2b-f0nsf`` (F0, 0 = unvoiced) and ``2a_f0`` (its coarse pitch), on RMVPE's own 10 ms frames."""

    kind = "pitch"

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("f0nsf", "npy", "float32", "(L16 // 160 + 1,)"),
                FileRecord("f0", "npy", "int64", "(L16 // 160 + 1,) in 1..255"))

    def files_for(self, f0: np.ndarray) -> dict[str, Any]:
        return {"f0nsf": np.asarray(f0, np.float32), "f0": coarse_pitch(f0)}


class RvcNaming(Naming):
    """``<dir>/<stem>_<piece>.<ext>`` (``.wav.npy`` for the pitch files); ``stems``: each source's stem."""

    DIRS = {"gt": "0_gt_wavs", "wav16k": "1_16k_wavs", "f0": "2a_f0", "f0nsf": "2b-f0nsf"}

    def __init__(self, stems: dict[str, str], feature_dir: str) -> None:
        self.stems, self.feature_dir = stems, feature_dir
        self._uids = {stem: uid for uid, stem in stems.items()}
        self.dirs = {**self.DIRS, "feature": feature_dir}

    def stem(self, id: EntryId) -> str:
        """``<source stem>_<piece number>`` (RVC's ``<sid>_<i>``-like names), ``mute`` for the mute rows."""
        if id == MUTE_ID:
            return MUTE
        return "_".join((self.stems[id.source], *(str(index) for index in id.pieces)))

    def relative_path(self, file: str, uid: EntryId, suffix: str) -> PurePosixPath:
        middle = ".wav" if file in ("f0", "f0nsf") else ""
        root = PurePosixPath(MUTE) if uid == MUTE_ID else PurePosixPath()
        return root / self.dirs[file] / f"{self.stem(uid)}{middle}{suffix}"

    def uid_of(self, file: str, relative: PurePosixPath, suffix: str) -> EntryId | None:
        middle = ".wav" if file in ("f0", "f0nsf") else ""
        parts = relative.parts
        if len(parts) != 2 or parts[0] != self.dirs[file] or not parts[1].endswith(middle + suffix):
            return None
        stem = parts[1][: -len(middle + suffix)]
        base, _, piece = stem.rpartition("_")
        if self._uids.get(base) is not None and piece.isdigit():
            return EntryId(self._uids[base], (int(piece),))
        return EntryId(self._uids[stem]) if stem in self._uids else None

    def listing_dirs(self, file: str) -> tuple[PurePosixPath, ...]:
        return (PurePosixPath(self.dirs[file]),)


def rvc_stems(corpus) -> dict[str, str]:
    """uid -> file stem (``/`` as ``_``, unsafe characters as ``_``); two uids with one stem are a usage error."""
    stems: dict[str, str] = {}
    owners: dict[str, str] = {}
    for entry in corpus.entries:
        stem = safe_name(entry.uid.replace("/", "_"))
        clash = owners.setdefault(stem, entry.uid)
        if clash != entry.uid:
            raise ConfigError(f"rvc: {clash!r} and {entry.uid!r} would share the file stem {stem!r}; rename one",
                              "corpus")
        stems[entry.uid] = stem
    return stems


@dataclass(frozen=True)
class RvcRecipe(ContentRecipe):
    name = NAME
    whole_uids = True  # its trainer would read a partial utterance
    encoder_key, encoders = "version", VERSIONS
    resample_rule: ClassVar[str] = "librosa"  # how a piece reaches 16 kHz (librosa.resample's default: soxr HQ)
    version: str = "v2"
    sample_rate: int = 40000

    def __post_init__(self) -> None:
        check_choice("version", self.version, tuple(VERSIONS))
        if self.sample_rate not in RATES:
            raise ConfigError(f"must be one of {', '.join(map(str, RATES))}, got {self.sample_rate!r}",
                              "sample_rate")

    @property
    def default_slicing(self):
        return slice_settings_from({"preset": "rvc", "sample_rate": self.sample_rate})

    @property
    def view(self) -> RvcPieceView:
        return RvcPieceView()

    @property
    def title(self) -> str:
        return f"RVC {self.version}"

    def naming(self, corpus: Corpus) -> Naming:
        return RvcNaming(rvc_stems(corpus), VERSIONS[self.version][2])

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        return {"stems": ctx.sink.naming.stems, "feature_dir": VERSIONS[self.version][2],
                "sample_rate": self.sample_rate}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return RvcNaming(dict(data.get("stems", {})), data.get("feature_dir", "3_feature768"))

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        return check_tree(tree, records, data)

    def check(self, ctx: RecipeContext) -> None:
        if "|" in str(ctx.tree.root.resolve()):
            raise ConfigError(f"{ctx.tree.root}: RVC's file list separates its fields with '|', so no path in it may "
                              "hold one; choose an output dir without '|'", "out")
        stage = ctx.stages.find("slice") if ctx.stages is not None else None
        if stage is None:
            raise ConfigError(f"{self.name} trains on pieces of at most 6.75 s: keep slicing on (slice: {self.name})",
                              "slice")
        slicing = stage.slice_settings
        if slicing.sample_rate != self.sample_rate:
            raise ConfigError(f"slicing at {slicing.sample_rate} Hz, the model rate is {self.sample_rate}: "
                              f"{self.title} slices at its model rate (set slice.sample_rate to it)", "slice")
        if slicing.piece_seconds is not None and slicing.piece_seconds + slicing.overlap_seconds < 0.75:
            raise ConfigError(f"pieces of {slicing.piece_seconds} s are all shorter than the 0.75 s RVC's bucket "
                              "sampler keeps: every piece would be dropped", "slice")

    def outputs(self, ctx: RecipeContext) -> list:
        gt = AudioRequest(self.sample_rate, 1, self.view)
        wav16k = AudioRequest(16000, 1, self.view, self.resample_rule)
        content, content_sha, tracker, sha = ctx.content_and_pitch(
            self.extractor, self.content_width, lambda rate: AudioRequest(rate, 1, self.view, self.resample_rule),
            self.pitch, self.title)
        grid = OutputGrid(wav16k, 160, True, Fraction(0))  # RMVPE's frames: L16 // 160 + 1, at i·10 ms
        frames = grid.frames_from_audio("wav16k")
        return [
            StoredAudio("gt", gt, "wav_float32"),
            StoredAudio("wav16k", wav16k, "wav_float32"),
            RvcPitch("pitch", grid, self.pitch, tracker, sha, frames),
            NativeFeature("feature", content, checkpoint_sha256=content_sha,
                          dtype=ctx.dtype, reference_grid=OutputGrid(wav16k, 160, True, Fraction(0)),
                          frames=frames, tolerance=4, file="feature"),
        ]

    def synthetic_entries(self, ctx: RecipeContext) -> list[SyntheticEntry]:
        """``EXP/mute/...``: silence through the same outputs and models, for the two mute rows of the file list."""
        return [SyntheticEntry(MUTE_ID, Audio(np.zeros((int(MUTE_SECONDS * self.sample_rate), 1), np.float32),
                                              self.sample_rate))]

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        count = write_filelist(tree, ctx, outputs)
        base = "v1" if self.version == "v1" or self.sample_rate == 40000 else "v2"
        tree.write_dataset_file(FRAGMENT, "json", {
            "data": {"sampling_rate": self.sample_rate, "hop_length": RATES[self.sample_rate],
                     "training_files": tree.sink.dataset_location(FILELIST)},
            "model": {"spk_embed_dim": max(109, len({e.singer for e in ctx.corpus.entries}))},
            "svcprep": {"merge_over": f"configs/{base}/{self.sample_rate // 1000}k.json", "version": self.version}})
        notes = [f"RVC: {count} pieces in {tree.sink.dataset_location(FILELIST)} (+2 mute rows); merge "
                 f"{tree.sink.dataset_location(FRAGMENT)} over RVC's configs/{base}/{self.sample_rate // 1000}k.json"]
        if self.pitch_note:
            notes.insert(0, self.pitch_note)
        return notes
