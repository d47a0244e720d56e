"""so-vits-svc-fork (``pip install so-vits-svc-fork``): the tree its ``svc train`` reads, with OUT as the project dir::

    OUT/dataset/44k/<speaker>/<name>.wav           PCM16, 44.1 kHz: its resample step (mono, peak to 1, silence
                                                   trimmed at 30 dB in 0.1 s frames every 0.05 s, at least 0.3 s)
    OUT/dataset/44k/<speaker>/<name>.wav.data.pt   torch dict, read with weights_only=True: spec (1025, T),
                                                   mel_spec (80, T), f0 (T,) filled, uv (T,), content (768, T),
                                                   audio (1, N), spk (int64)
    OUT/filelists/44k/{train,val,test}.txt         its split: two val and two test files per speaker
    OUT/configs/44k/config.json                    its so-vits-svc-4.0v1 template, speakers filled in

Everything in ``.data.pt`` is computed from the wav as written (its int16 values / 32768), as the fork's
``pre-hubert`` step computes it: the spectrogram (reflect pad 768, n_fft 2048, hop 512, ``center=False``), its
log-mel (80 Slaney bands to 22.05 kHz), F0 by its DIO, ContentVec's last hidden state on the wav resampled to
16 kHz by torchaudio's sinc rule and stretched to the F0's length; all cut to the shortest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from svcprep.audio.io import Audio, resample, soundfile_pcm16, to_channels
from svcprep.audio.mel import slaney_mel_filters
from svcprep.audio.spectra import linear_spectrogram
from svcprep.audio.trim import nonsilent_span
from svcprep.audio.views import View
from svcprep.corpus.scan import Corpus
from svcprep.errors import AudioLoadError, SvcprepError
from svcprep.outputs.base import AudioRequest, ModelRequest, Output
from svcprep.outputs.common import view_settings
from svcprep.outputs.features import model_settings
from svcprep.outputs.records import FileRecord, GridRecord, OutputRecord
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.pitch.settings import PitchSettings, check_backend
from svcprep.recipes.base import RecipeContext
from svcprep.recipes.content import ContentRecipe
from svcprep.recipes.sovits import SovitsNaming
from svcprep.recipes.sovits_fork_files import (
    CONFIG,
    MIN_FILES_PER_SPEAKER,
    TEST_LIST,
    TRAIN_LIST,
    VAL_LIST,
    fork_f0,
    fork_fill,
    repeat_expand,
    split,
    training_config,
)
from svcprep.recipes.speakers import NameTable, name_table
from svcprep.store.naming import Naming

NAME = "so-vits-svc-fork"
SAMPLE_RATE, HOP, N_FFT, N_MELS, MEL_FMAX = 44100, 512, 2048, 80, 22050.0
CONTENT_WIDTH = 768
DATA_KEYS = ("spec", "mel_spec", "f0", "uv", "content", "audio", "spk")


@dataclass(frozen=True)
class ForkView(View):
    """``preprocess_resample``: mono at 44.1 kHz (soxr, librosa's length), divided by its peak, leading and
    trailing silence trimmed (``librosa.effects.trim(top_db=30, frame_length=4410, hop_length=2205)``), at least
    0.3 s before and after, written as PCM_16 as soundfile writes it, read back / 32768."""

    name = "so-vits-svc-fork"
    top_db: float = 30.0
    min_seconds: float = 0.3

    def base(self, source: Audio) -> Audio:
        wav = resample(to_channels(source, 1), source.sample_rate, SAMPLE_RATE, "librosa")
        if len(wav) / SAMPLE_RATE < self.min_seconds:
            raise AudioLoadError(f"{len(wav) / SAMPLE_RATE:.2f} s: the fork skips clips under {self.min_seconds} s")
        peak = max(float(wav.max()), -float(wav.min()))
        if peak <= 0:
            raise AudioLoadError("silent throughout: peak normalisation would divide by zero")
        wav = (wav / np.float32(peak)).astype(np.float32)
        start, end = nonsilent_span(wav, self.top_db, int(0.1 * SAMPLE_RATE), int(0.05 * SAMPLE_RATE))
        wav = wav[start:end]
        if len(wav) / SAMPLE_RATE < self.min_seconds:
            raise AudioLoadError(f"{len(wav) / SAMPLE_RATE:.2f} s left after trimming silence: the fork skips "
                                 f"clips under {self.min_seconds} s")
        return Audio((soundfile_pcm16(wav).astype(np.float32) / 32768.0)[:, None], SAMPLE_RATE)


@dataclass(frozen=True, eq=False)
class ForkData(Output):
    """``<name>.wav.data.pt``: one dict per clip, its parts on one frame axis of ``len // 512`` frames."""

    kind: ClassVar[str] = "fork_data"
    stage: ClassVar[str] = "data"
    name: str
    audio: AudioRequest
    content: ModelRequest
    checkpoint_sha256: str
    speakers: tuple[tuple[str, int], ...]  # source uid -> speaker id

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord("data", "torch_dict", "float32", "{spec (1025,T), mel_spec (80,T), f0 (T,), uv (T,), "
                                                           "content (768,T), audio (1,N), spk ()}"),)

    @property
    def model(self) -> ModelRequest:
        return self.content

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (self.audio,)

    @cached_property
    def _speaker_of(self) -> dict[str, int]:
        return dict(self.speakers)

    def decode(self, clip: Any) -> dict[str, np.ndarray]:
        wav = clip.audio(self.audio)  # mono (num_samples,)
        spec = linear_spectrogram(wav, N_FFT, HOP, N_FFT, 1e-6)
        mel = np.log(np.maximum(slaney_mel_filters(SAMPLE_RATE, N_FFT, N_MELS, 0.0, MEL_FMAX) @ spec, 1e-5))
        f0, uv = fork_fill(fork_f0(wav, SAMPLE_RATE, HOP))
        return {"spec": spec, "mel_spec": mel.astype(np.float32), "f0": f0, "uv": uv, "audio": wav[None]}

    def finish(self, clip: Any, partial: dict[str, np.ndarray], native: np.ndarray) -> dict[str, Any]:
        content = repeat_expand(np.asarray(native, np.float32).T, len(partial["f0"]))
        frames = min(partial["spec"].shape[1], partial["mel_spec"].shape[1], len(partial["f0"]), content.shape[1])
        if frames == 0:
            raise SvcprepError("no frame left once spectrogram, F0 and content are cut to the shortest")
        data = {"spec": partial["spec"][:, :frames], "mel_spec": partial["mel_spec"][:, :frames],
                "f0": partial["f0"][:frames], "uv": partial["uv"][:frames], "content": content[:, :frames],
                "audio": partial["audio"], "spk": np.int64(self._speaker_of[clip.id.source])}
        return {"data": {k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for k, v in data.items()}}

    def record(self) -> OutputRecord:
        settings = {"content": model_settings(self.content, self.checkpoint_sha256), "f0": "dio (the fork's)",
                    "view": view_settings(self.audio.view), "hop_length": HOP, "n_fft": N_FFT, "n_mels": N_MELS}
        return OutputRecord(self.name, self.kind, self.files, settings, grid=GridRecord(SAMPLE_RATE, HOP),
                            dim=CONTENT_WIDTH)

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        data = arrays.get("data")
        if not isinstance(data, dict) or sorted(data) != sorted(DATA_KEYS):
            return f"holds {sorted(data) if isinstance(data, dict) else type(data).__name__}, not {list(DATA_KEYS)}"
        frames = data["f0"].shape[0]
        shapes = {"spec": (N_FFT // 2 + 1, frames), "mel_spec": (N_MELS, frames), "uv": (frames,),
                  "content": (record.dim, frames)}
        for key, shape in shapes.items():
            if tuple(data[key].shape) != shape:
                return f"{key} has shape {tuple(data[key].shape)}, expected {shape} (the F0's {frames} frames)"
        if data["audio"].ndim != 2 or data["audio"].shape[0] != 1 or data["audio"].shape[1] // HOP < frames:
            return f"audio has shape {tuple(data['audio'].shape)}: (1, N) covering {frames} frames of {HOP}"
        if np.asarray(data["spk"]).shape != () or np.asarray(data["spk"]).dtype != np.int64:
            return "spk is not one int64"
        if np.any(data["f0"][data["uv"] > 0] <= 0):
            return "a voiced frame (uv 1) has no F0"
        return None


class ForkNaming(SovitsNaming):
    SUFFIXES = {"wav": "", "data": ".wav.data"}


@dataclass(frozen=True)
class SovitsForkRecipe(ContentRecipe):
    name = NAME
    whole_uids = True  # its trainer would read a partial utterance
    encoder_key, encoders = "speech_encoder", {"vec768l12": ("contentvec-768-l12", CONTENT_WIDTH)}
    pitch: PitchSettings = field(default_factory=lambda: PitchSettings(method="dio"))
    speech_encoder: str = "vec768l12"
    seed: int = 1234  # the fork's split: RandomState(1234)

    @property
    def view(self) -> ForkView:
        return ForkView()

    def option_names(self) -> set[str]:
        return {"contentvec", self.extractor.name, self.name}

    def naming(self, corpus: Corpus) -> Naming:
        return ForkNaming(name_table(corpus, NAME), "44k")

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        return {"rate_dir": "44k", "names": ctx.sink.naming.table.to_json()}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return ForkNaming(NameTable.from_json(data.get("names", {})), "44k")

    def layout_settings(self, ctx: RecipeContext) -> dict[str, Any]:
        """Each ``.data.pt`` holds its speaker's id (the index among the sorted speakers): a speaker added or removed
        changes others' ids, so the change is refused (``--overwrite`` rebuilds); a clip added or removed is not."""
        table: NameTable = ctx.sink.naming.table
        return {"speaker_ids": {speaker: index for index, speaker in enumerate(table.speakers())}}

    def check(self, ctx: RecipeContext) -> None:
        check_backend("dio")

    def outputs(self, ctx: RecipeContext) -> list:
        audio = AudioRequest(SAMPLE_RATE, 1, self.view, "librosa")
        content, content_sha, _, _ = ctx.content_and_pitch(
            self.extractor, CONTENT_WIDTH, lambda rate: AudioRequest(rate, 1, self.view, "torchaudio"),
            PitchSettings(method="dio"), "so-vits-svc-fork's content (vec768l12)")
        table: NameTable = ctx.tree.sink.naming.table
        speakers = {speaker: index for index, speaker in enumerate(table.speakers())}
        by_source = tuple((uid, speakers[table.names[uid][0]]) for uid in sorted(table.names))
        return [StoredAudio("wav", audio, "wav_int16"),
                ForkData("data", audio, content, content_sha, by_source)]

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        table: NameTable = tree.sink.naming.table
        wav = outputs[0].files[0]
        by_speaker: dict[str, list[str]] = {}
        for uid in ctx.done_uids(outputs):
            path = tree.sink.location(wav, ctx.entries[uid].id, relative=True)  # dataset/44k/<speaker>/<name>.wav
            by_speaker.setdefault(table.speaker_and_stem(ctx.entries[uid].id)[0], []).append(path)
        short = sorted(s for s, paths in by_speaker.items() if len(paths) < MIN_FILES_PER_SPEAKER)
        notes = []
        if short:
            notes.append(f"so-vits-svc-fork: speaker(s) {', '.join(short)} have fewer than {MIN_FILES_PER_SPEAKER} "
                         "finished clips (its split needs 2 to validate and 2 to test): left out of the file lists")
        train, val, test = split({s: p for s, p in by_speaker.items() if s not in short}, self.seed)
        for name, rows in ((TRAIN_LIST, train), (VAL_LIST, val), (TEST_LIST, test)):
            tree.write_text(name, "\n".join(rows))
        speakers = {speaker: index for index, speaker in enumerate(table.speakers())}
        tree.write_dataset_file(CONFIG, "json", training_config(speakers, TRAIN_LIST, VAL_LIST))
        notes.append(f"so-vits-svc-fork: {len(train)} train / {len(val)} val / {len(test)} test files in "
                     f"{tree.sink.dataset_location(TRAIN_LIST)}; {CONFIG} beside them (run `svc train` there)")
        return notes

