"""RIFT-SVC (rectified-flow DiT): the data dir its fine-tuning reads (``config/finetune.yaml``: ``data/finetune``),
with OUT as a RIFT-SVC checkout's root::

    OUT/data/finetune/<speaker>/<stem>.wav      PCM16 44.1 kHz mono at -18 LUFS (peak over 1: scaled to 0.99)
    OUT/data/finetune/<speaker>/<stem>.mel.pt   (1, 128, T) float32 log-mel, T = N // 512
    OUT/data/finetune/<speaker>/<stem>.rms.pt   (1, T) float32 frame RMS
    OUT/data/finetune/<speaker>/<stem>.f0.pt    (T,) float32 Hz, 0 unvoiced: RMVPE (or FCPE) on its frame times
    OUT/data/finetune/<speaker>/<stem>.cvec.pt  (2n, 768) float32: ContentVec's last hidden state on the 16 kHz
                                                audio and on it 10 ms later, rows interleaved (a 10 ms grid)
    OUT/data/finetune/meta_info.json            speakers, train_audios, test_audios (one test file per speaker)

Every feature is computed from the wav as written (its int16 values / 32768), as RIFT-SVC's scripts compute them
from the wav its resample-and-normalise step wrote; the loudness step is this recipe's own (no other tree gets it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar

import numpy as np

from svcprep.audio.io import Audio, resample, soundfile_pcm16, to_channels
from svcprep.audio.views import View
from svcprep.corpus.scan import Corpus
from svcprep.errors import AudioLoadError, ConfigError, SvcprepError
from svcprep.outputs.base import AudioRequest, ModelRequest, Output
from svcprep.outputs.common import view_settings
from svcprep.outputs.features import model_settings
from svcprep.outputs.records import FileRecord, GridRecord, OutputRecord
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.pitch.settings import PitchSettings
from svcprep.recipes.base import RecipeContext
from svcprep.recipes.content import ContentRecipe
from svcprep.recipes.rift_svc_files import (
    HEADROOM_PEAK,
    HOP,
    META_INFO,
    N_MELS,
    SAMPLE_RATE,
    TARGET_LUFS,
    ShiftedPair,
    check_meta,
    log_mel,
    post_process_f0,
    rms,
    stratified_split,
)
from svcprep.recipes.speakers import NameTable, SpeakerDirNaming, name_table
from svcprep.store.naming import Naming

NAME = "rift-svc"
DATA_DIR = PurePosixPath("data", "finetune")
CONTENT_WIDTH = 768
SUFFIXES = {"wav": "", "mel": ".mel", "rms": ".rms", "f0": ".f0", "cvec": ".cvec"}


@dataclass(frozen=True)
class RiftView(View):
    """Its ``resample_normalize_audios.py``: mono by averaging, 44.1 kHz (soxr; it uses resampy), integrated
    loudness to -18 LUFS (pyloudnorm's meter and gain), scaled to a 0.99 peak if that leaves it above 1, written as
    PCM_16 as soundfile writes it and read back / 32768."""

    name = "rift-svc"

    def base(self, source: Audio) -> Audio:
        import pyloudnorm

        wav = resample(to_channels(source, 1), source.sample_rate, SAMPLE_RATE, "librosa").astype(np.float64)
        if len(wav) < 0.4 * SAMPLE_RATE:
            raise AudioLoadError(f"{len(wav) / SAMPLE_RATE:.2f} s: loudness (BS.1770) needs at least 0.4 s")
        loudness = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(wav)
        if not np.isfinite(loudness):
            raise AudioLoadError("silent throughout: loudness normalisation would divide by zero")
        wav = wav * 10.0 ** ((TARGET_LUFS - loudness) / 20.0)
        peak = float(np.max(np.abs(wav)))
        if peak > 1.0:
            wav = wav * (HEADROOM_PEAK / peak)
        return Audio((soundfile_pcm16(wav).astype(np.float32) / 32768.0)[:, None], SAMPLE_RATE)


WAV = AudioRequest(SAMPLE_RATE, 1, RiftView(), "librosa")


@dataclass(frozen=True, eq=False)
class RiftSpectral(Output):
    """``<stem>.mel.pt`` (1, 128, T) and ``<stem>.rms.pt`` (1, T) of the wav as written."""

    kind: ClassVar[str] = "rift_spectral"
    stage: ClassVar[str] = "mel"
    name: str = "spectral"

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("mel", "torch", "float32", "(1, 128, N // 512)"),
                FileRecord("rms", "torch", "float32", "(1, N // 512)"))

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (WAV,)

    def decode(self, clip: Any) -> dict[str, np.ndarray]:
        wav = clip.audio(WAV)
        if len(wav) < 2048:
            raise AudioLoadError(f"{len(wav)} samples: RIFT-SVC's mel needs at least 2048")
        return {"mel": log_mel(wav), "rms": rms(wav)}

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return partial

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files, {"view": view_settings(RiftView()), "n_mels": N_MELS,
                                                               "hop_length": HOP}, grid=GridRecord(SAMPLE_RATE, HOP))

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        mel, energy = arrays.get("mel"), arrays.get("rms")
        if mel is None or energy is None or mel.ndim != 3 or mel.shape[:2] != (1, N_MELS):
            return f"mel has shape {getattr(mel, 'shape', None)}, expected (1, {N_MELS}, T)"
        if energy.shape != (1, mel.shape[2]):
            return f"rms has shape {energy.shape}, expected (1, {mel.shape[2]}) (the mel's frames)"
        return None


@dataclass(frozen=True, eq=False)
class RiftF0(Output):
    """``<stem>.f0.pt`` (T,): the tracker's 10 ms F0 of the 16 kHz audio, post-processed onto ``k·512/44100``."""

    kind: ClassVar[str] = "rift_f0"
    stage: ClassVar[str] = "pitch"
    model_stage: ClassVar[str] = "pitch"
    name: str = "f0"
    tracker: ModelRequest | None = None
    tracker_sha256: str = ""
    method: str = ""

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("f0", "torch", "float32", "(N // 512,) Hz, 0 = unvoiced"),)

    @property
    def model(self) -> ModelRequest | None:
        return self.tracker

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (WAV,)

    def decode(self, clip: Any) -> int:
        return len(clip.audio(WAV))

    def finish(self, clip: Any, partial: int, native: np.ndarray) -> dict[str, Any]:
        return {"f0": post_process_f0(native, partial)}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"method": self.method, "model_sha256": self.tracker_sha256[:16],
                             "view": view_settings(RiftView())}, grid=GridRecord(SAMPLE_RATE, HOP))


@dataclass(frozen=True, eq=False)
class RiftContent(Output):
    """``<stem>.cvec.pt`` (2n, 768): the content pair, as its ``prepare_cvec.py`` writes it."""

    kind: ClassVar[str] = "rift_cvec"
    stage: ClassVar[str] = "content"
    name: str = "cvec"
    content: ModelRequest | None = None
    checkpoint_sha256: str = ""

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("cvec", "torch", "float32", "(2n, 768): rows a0, b0, a1, b1, ... on a 10 ms grid"),)

    @property
    def model(self) -> ModelRequest | None:
        return self.content

    def finish(self, clip: Any, partial: Any, native: np.ndarray) -> dict[str, Any]:
        return {"cvec": np.ascontiguousarray(native, dtype=np.float32)}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"content": model_settings(ModelRequest(self.content.resolved.inner, self.content.audio),
                                                       self.checkpoint_sha256),
                             "pair": "the audio and the audio 10 ms later, rows interleaved"}, dim=CONTENT_WIDTH)

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        cvec = arrays.get("cvec")
        if cvec is None or cvec.ndim != 2 or cvec.shape[1] != record.dim or cvec.shape[0] % 2:
            return f"cvec has shape {getattr(cvec, 'shape', None)}, expected (2n, {record.dim})"
        return None


class RiftNaming(SpeakerDirNaming):
    """``data/finetune/<speaker>/<stem><.kind>.pt`` (the wav: ``<stem>.wav``), ``meta_info.json`` beside them."""

    SUFFIXES = SUFFIXES

    def __init__(self, table: NameTable) -> None:
        super().__init__(table, DATA_DIR)

    def dataset_path(self, name: str) -> PurePosixPath:
        return DATA_DIR / name


@dataclass(frozen=True)
class RiftSvcRecipe(ContentRecipe):
    name = NAME
    whole_uids = True  # its loader opens every feature of a listed file
    encoder_key, encoders = "encoder", {"contentvec": ("contentvec-768-l12", CONTENT_WIDTH)}
    pitch: PitchSettings = field(default_factory=lambda: PitchSettings(method="rmvpe", threshold=0.03))
    encoder: str = "contentvec"

    def naming(self, corpus: Corpus) -> Naming:
        return RiftNaming(name_table(corpus, NAME))

    def check(self, ctx: RecipeContext) -> None:
        if not self.pitch.on_model_device:
            raise ConfigError(f"RIFT-SVC's F0 is RMVPE's (or FCPE's) 10 ms track, got {self.pitch.method!r}",
                              "pitch.method")

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        return {"names": ctx.sink.naming.table.to_json()}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return RiftNaming(NameTable.from_json(data.get("names", {})))

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        if "wav" not in records:
            return [(NAME, "the wavs have no record")]
        table = tree.sink.naming.table
        wavs = {table.speaker_and_stem(tree.id_of(uid)) for uid in tree.finished_in_all(list(records.values()))}
        try:
            meta = tree.sink.read_dataset_file(META_INFO, "json")
        except (OSError, ValueError, SvcprepError) as exc:
            return [(META_INFO, f"unreadable ({exc})")]
        return [(META_INFO, problem) for problem in check_meta(meta, wavs)]

    def outputs(self, ctx: RecipeContext) -> list:
        content, content_sha, tracker, tracker_sha = ctx.content_and_pitch(
            self.extractor, CONTENT_WIDTH, lambda rate: AudioRequest(rate, 1, RiftView(), "torchaudio"), self.pitch,
            "RIFT-SVC's content (ContentVec's last hidden state)")
        pair = ModelRequest(ShiftedPair(content.resolved), content.audio)
        return [StoredAudio("wav", WAV, "wav_int16"), RiftSpectral(),
                RiftF0(tracker=tracker, tracker_sha256=tracker_sha or "", method=self.pitch.method),
                RiftContent(content=pair, checkpoint_sha256=content_sha)]

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        table: NameTable = tree.sink.naming.table
        by_speaker: dict[str, list[str]] = {}
        for uid in ctx.done_uids(outputs):
            speaker, stem = table.speaker_and_stem(ctx.entries[uid].id)
            by_speaker.setdefault(speaker, []).append(stem)
        train, test, alone = stratified_split(by_speaker)
        tree.write_dataset_file(META_INFO, "json", {"speakers": sorted(by_speaker), "train_audios": train,
                                                    "test_audios": test})
        notes = [f"RIFT-SVC: {len(train)} train / {len(test)} test files of {len(by_speaker)} speaker(s) in "
                 f"{tree.sink.dataset_location(META_INFO)}"]
        if alone:
            notes.append(f"RIFT-SVC: speaker(s) {', '.join(alone)} have one clip: it trains, none is held out")
        if self.pitch_note:
            notes.insert(0, self.pitch_note)
        return notes
