"""Audio a recipe stores for its trainer (so-vits-svc's int16 wavs, DDSP-SVC's and RVC's float wavs): the
view's audio at one rate, written as it was used for every other output of the recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from svcprep import __version__
from svcprep.outputs.base import AudioRequest, Output
from svcprep.outputs.common import view_settings
from svcprep.outputs.records import FileRecord, OutputRecord, Wav


@dataclass(frozen=True)
class StoredAudio(Output):
    """Mono ``audio`` as a WAV: ``wav_int16`` (the view's samples are exact multiples of 1/32768) or
    ``wav_float32``."""

    kind = "audio"
    stage = "audio"
    name: str
    audio: AudioRequest
    codec: str = "wav_float32"
    file: str = ""

    @property
    def files(self) -> tuple[FileRecord, ...]:
        dtype = "int16" if self.codec == "wav_int16" else "float32"
        return (FileRecord(self.file or self.name, self.codec, dtype, "(num_samples,)"),)

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (self.audio,)

    def decode(self, clip: Any) -> Wav:
        wav = clip.audio(self.audio)
        rate = clip.sample_rate(self.audio)
        if self.codec == "wav_int16":
            samples = np.round(wav.astype(np.float64) * 32768.0)
            if np.abs(samples - wav.astype(np.float64) * 32768.0).max(initial=0.0) > 1e-6:
                raise ValueError(f"{self.name}: the view's audio is not 16-bit; it cannot be stored as int16 exactly")
            return Wav(np.clip(samples, -32768, 32767).astype(np.int16), rate)
        return Wav(wav.astype(np.float32), rate)

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return {self.files[0].name: partial}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"sample_rate": self.audio.sample_rate, "view": view_settings(self.audio.view),
                             "length_rule": self.audio.length_rule}, svcprep_version=__version__)
