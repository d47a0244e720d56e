"""so-vits-svc 4.1: the tree its unmodified ``train.py`` (and ``train_diff.py``) reads, with OUT as the so-vits-svc
root::

    OUT/dataset/44k/<speaker>/<name>.wav            int16, 44.1 kHz, trimmed and peak-normalised (resample.py)
    OUT/dataset/44k/<speaker>/<name>.wav.soft.pt    (1, D, T50) float32 content at the encoder's 50 Hz
    OUT/dataset/44k/<speaker>/<name>.wav.f0.npy     object array (2, T): F0 with unvoiced frames filled, uv
    OUT/dataset/44k/<speaker>/<name>.wav.vol.npy    (T,) frame RMS
    OUT/dataset/44k/<speaker>/<name>.spec.pt        (1025, T) linear magnitude spectrogram
    OUT/dataset/44k/<speaker>/<name>.wav.{mel,aug_mel,aug_vol}.npy   with diffusion: NSF-HiFiGAN mel (T, 128), ...
    OUT/filelists/train.txt, val.txt                ./dataset/44k/<speaker>/<name>.wav per line
    OUT/svcprep_sovits.json                         to merge over configs_template/config_template.json

``T = L // 512`` for the ``L`` samples of the written wav, frame i centred at ``(i + ½)·512``. Every output is
computed from the audio as written (the int16 values), so it equals what so-vits-svc's own preprocessing
computes from that wav. A uid enters the file lists only when all its files are finished.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from svcprep.audio.io import Audio, resample, to_channels
from svcprep.audio.presets import load_preset
from svcprep.audio.trim import nonsilent_span
from svcprep.audio.views import View
from svcprep.corpus.scan import Corpus
from svcprep.errors import AudioLoadError
from svcprep.outputs.base import AudioRequest, OutputGrid
from svcprep.outputs.features import NativeFeature
from svcprep.outputs.pitch import PitchOutput
from svcprep.outputs.records import FileRecord
from svcprep.outputs.spectral import Augmentation, AugmentedMelVolume, LinearSpectrogram, LogMel, Volume
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.pitch.settings import PitchSettings
from svcprep.pitch.tracking import fill_unvoiced
from svcprep.recipes.base import RecipeContext
from svcprep.recipes.content import ContentRecipe
from svcprep.recipes.settings import check_bool, check_choice, check_number
from svcprep.recipes.sovits_files import DIFFUSION_FRAGMENT, FRAGMENT, SUFFIXES, TRAIN_LIST, VAL_LIST, check_tree
from svcprep.recipes.speakers import NameTable, SpeakerDirNaming, name_table, ordered
from svcprep.store.naming import Naming

NAME = "so-vits-svc"
# speech_encoder -> (svcprep extractor, width): ContentVec layer 12 as is, or layer 9 through final_proj.
ENCODERS = {"vec768l12": ("contentvec-768-l12", 768), "vec256l9": ("contentvec-256-l9", 256)}


@dataclass(frozen=True)
class SovitsView(View):
    """``resample.py``: mono, silence trimmed (``top_db``), peak scaled to 0.98 if above 1, resampled to
    ``sample_rate`` (soxr, librosa's length), divided by its peak unless ``skip_loudnorm``, written as int16
    (``× 32767``, truncated) and read back ``/ 32768``: the audio so-vits-svc trains on."""

    name = "so-vits-svc"
    sample_rate: int = 44100
    top_db: float = 40.0
    skip_loudnorm: bool = False

    def base(self, source: Audio) -> Audio:
        wav = to_channels(source, 1)
        start, end = nonsilent_span(wav, self.top_db)
        wav = wav[start:end]
        if len(wav) == 0:
            raise AudioLoadError("silent throughout: nothing is left after trimming silence")
        peak = float(np.max(np.abs(wav)))
        if peak > 1.0:
            wav = (0.98 * wav / peak).astype(np.float32)
        wav = resample(wav, source.sample_rate, self.sample_rate, "librosa")
        if not self.skip_loudnorm:
            peak = float(np.max(np.abs(wav)))
            if peak == 0:
                raise AudioLoadError("silent throughout: peak normalisation would divide by zero")
            wav = wav / np.float32(peak)
        quantized = (wav * 32767).astype(np.int16)
        return Audio((quantized.astype(np.float32) / 32768.0)[:, None], self.sample_rate)


@dataclass(frozen=True)
class SovitsPitch(PitchOutput):
    """``<name>.wav.f0.npy``: ``np.asanyarray((f0, uv), dtype=object)``, F0 with unvoiced frames filled by linear
    interpolation (edges held), ``uv`` 1.0 where voiced; a clip with no voiced frame fails (so-vits-svc would
    write zeros and train on them)."""

    kind = "pitch_pair"

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("f0", "npy_object", "object", "(2, T): (f0 filled, uv)"),)

    def files_for(self, f0: np.ndarray) -> dict[str, Any]:
        voiced = (np.asarray(f0) > 0).astype(np.float64)
        return {"f0": (fill_unvoiced(f0), voiced)}


class SovitsNaming(SpeakerDirNaming):
    """``dataset/<rate dir>/<speaker>/<stem><suffix of the file>``."""

    SUFFIXES = SUFFIXES

    def __init__(self, table: NameTable, rate_dir: str) -> None:
        super().__init__(table, PurePosixPath("dataset", rate_dir))
        self.rate_dir = rate_dir


def rate_dir(sample_rate: int) -> str:
    return f"{sample_rate // 1000}k"


@dataclass(frozen=True)
class SovitsRecipe(ContentRecipe):
    name = NAME
    whole_uids = True  # its trainer would read a partial utterance
    encoder_key, encoders = "speech_encoder", ENCODERS
    pitch: PitchSettings = field(default_factory=lambda: PitchSettings(method="rmvpe", threshold=0.05))
    speech_encoder: str = "vec768l12"
    sample_rate: int = 44100
    hop_length: int = 512
    n_fft: int = 2048
    trim_top_db: float = 40.0
    skip_loudnorm: bool = False
    diffusion: bool = False
    vol_embedding: bool = False
    min_seconds: float = 0.3
    val_per_speaker: int = 2
    seed: int = 1234

    def __post_init__(self) -> None:
        check_choice("speech_encoder", self.speech_encoder, tuple(ENCODERS))
        for name in ("skip_loudnorm", "diffusion", "vol_embedding"):
            check_bool(name, getattr(self, name))
        check_number("min_seconds", self.min_seconds)
        check_number("val_per_speaker", self.val_per_speaker, integer=True)
        check_number("seed", self.seed, integer=True)
        for name in ("sample_rate", "hop_length", "n_fft"):
            check_number(name, getattr(self, name), positive=True, integer=True)

    # -- grids and audio -------------------------------------------------------------------------------------
    @property
    def view(self) -> SovitsView:
        return SovitsView(self.sample_rate, self.trim_top_db, self.skip_loudnorm)

    @property
    def audio(self) -> AudioRequest:
        return AudioRequest(self.sample_rate, 1, self.view, "librosa")

    @property
    def grid(self) -> OutputGrid:
        """``L // 512`` frames of the written wav, frame i centred at ``(i + ½)·512`` (the spectrogram's frames)."""
        return OutputGrid(self.audio, self.hop_length, False, Fraction(1, 2))

    def naming(self, corpus: Corpus) -> Naming:
        return SovitsNaming(name_table(corpus, NAME), rate_dir(self.sample_rate))

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        return {"rate_dir": rate_dir(self.sample_rate), "names": ctx.sink.naming.table.to_json()}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return SovitsNaming(NameTable.from_json(data.get("names", {})), data.get("rate_dir", "44k"))

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        return check_tree(tree, records, data)

    # -- outputs ----------------------------------------------------------------------------------------------
    def outputs(self, ctx: RecipeContext) -> list:
        grid = self.grid
        frames = grid.frames_from_audio("wav")
        content, content_sha, tracker, sha = ctx.content_and_pitch(
            self.extractor, self.content_width, lambda rate: AudioRequest(rate, 1, self.view, "librosa"),
            self.pitch, f"speech_encoder {self.speech_encoder}")
        outputs: list = [
            MinimumLengthAudio("wav", self.audio, "wav_int16", min_seconds=self.min_seconds),
            NativeFeature("soft", content, checkpoint_sha256=content_sha, codec="torch",
                          layout="1DT", dtype=ctx.dtype, reference_grid=grid, frames=frames, tolerance=4,
                          file="soft"),
            SovitsPitch("f0", grid, self.pitch, tracker, sha, frames),
            Volume("vol", grid, frames),
            LinearSpectrogram("spec", self.audio, self.n_fft, self.hop_length, self.n_fft, 1e-6, "torch", frames),
        ]
        if self.diffusion:
            preset = dataclasses.replace(load_preset("nsf-hifigan-44k"), mel_layout="frames_by_mels",
                                         resample_length="librosa")
            outputs += [LogMel("mel", preset, self.view, "mel"),
                        AugmentedMelVolume("aug", preset, grid, Augmentation(5.0, self.seed), "aug_mel", "aug_vol",
                                           pair=True, view=self.view, frames=frames)]
        return outputs

    # -- file lists and the config fragment ---------------------------------------------------------------------
    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        table: NameTable = tree.sink.naming.table
        complete = ctx.done_uids(outputs)
        by_speaker: dict[str, list[str]] = {}
        for uid in complete:
            by_speaker.setdefault(table.speaker_and_stem(ctx.entries[uid].id)[0], []).append(uid)
        train, val = [], []
        for speaker in sorted(by_speaker):
            uids = ordered(by_speaker[speaker], self.seed)
            val += uids[: self.val_per_speaker]
            train += uids[self.val_per_speaker:]
        wav = outputs[0].files[0]

        def line(uid: str) -> str:
            return "./" + tree.sink.location(wav, ctx.entries[uid].id, relative=True)

        tree.write_text(TRAIN_LIST, "".join(line(u) + "\n" for u in sorted(train)))
        tree.write_text(VAL_LIST, "".join(line(u) + "\n" for u in sorted(val)))
        speakers = {speaker: i for i, speaker in enumerate(table.speakers())}
        width = ENCODERS[self.speech_encoder][1]
        model: dict[str, Any] = {"n_speakers": len(speakers), "ssl_dim": width, "gin_channels": width,
                                 "speech_encoder": self.speech_encoder, "vol_embedding": self.vol_embedding}
        if width == 768:
            model["filter_channels"] = 768
        tree.write_dataset_file(FRAGMENT, "json", {
            "spk": speakers, "model": model, "train": {"vol_aug": self.vol_embedding},
            "data": {"training_files": TRAIN_LIST, "validation_files": VAL_LIST, "sampling_rate": self.sample_rate,
                     "hop_length": self.hop_length, "filter_length": self.n_fft, "win_length": self.n_fft,
                     "max_wav_value": 32768.0}})
        if self.diffusion:
            tree.write_dataset_file(DIFFUSION_FRAGMENT, "json", {
                "spk": speakers, "model": {"n_spk": len(speakers)},
                "data": {"encoder": self.speech_encoder, "encoder_out_channels": width,
                         "sampling_rate": self.sample_rate, "block_size": self.hop_length}})
        notes = [f"so-vits-svc: {len(train)} train / {len(val)} val files listed in "
                 f"{tree.sink.dataset_location(TRAIN_LIST)}; merge {tree.sink.dataset_location(FRAGMENT)} over "
                 "configs_template/config_template.json"]
        if self.pitch_note:
            notes.insert(0, self.pitch_note)
        missing = len(ctx.entries) - len(complete)
        if missing > 0:
            notes.append(f"so-vits-svc: {missing} utterance(s) not complete (failed or still running in other "
                         "shards) are left out of the file lists")
        return notes


@dataclass(frozen=True)
class MinimumLengthAudio(StoredAudio):
    """The stored wav, refused below ``min_seconds`` (so-vits-svc leaves such clips out of its file lists)."""

    min_seconds: float = 0.0

    def decode(self, clip: Any):
        seconds = clip.length(self.audio) / self.audio.sample_rate
        if seconds < self.min_seconds:
            raise AudioLoadError(f"{seconds:.3f} s after trimming; so-vits-svc trains on clips of at least "
                                 f"{self.min_seconds} s")
        return super().decode(clip)
