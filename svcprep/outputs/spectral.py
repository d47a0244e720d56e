"""Outputs computed from audio in the decode stage: log-mels (Amphion's and NSF-HiFiGAN's formula), energy from
the mel, a linear magnitude spectrogram, frame RMS volume, and gain/key-shift augmented copies."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from svcprep import __version__
from svcprep.audio.mel import energy_from_mel, mel_extractor
from svcprep.audio.presets import MelPreset
from svcprep.audio.spectra import frame_rms, keyshift_log_mel, linear_spectrogram
from svcprep.audio.views import RAW, View
from svcprep.ids import EntryId
from svcprep.outputs.base import AudioRequest, Output, OutputGrid
from svcprep.outputs.common import view_settings
from svcprep.outputs.records import FileRecord, FramesRecord, OutputRecord
from svcprep.outputs.windows import FileShape, RowStream, StreamSource, mel_rows


def mel_request(preset: MelPreset, view: View = RAW) -> AudioRequest:
    return AudioRequest(preset.sample_rate, 1, view, preset.resample_length)


def mel_grid(preset: MelPreset, view: View = RAW) -> OutputGrid:
    """Mel frames: ``num_samples // hop``, frame i centred at ``(i + ½)·hop`` (reflect pad ``(n_fft-hop)/2``)."""
    return OutputGrid(mel_request(preset, view), preset.hop_length, False, Fraction(1, 2))


def log_mel(clip: Any, preset: MelPreset, view: View) -> np.ndarray:
    """The clip's log-mel, computed once per clip however many outputs use it."""
    return clip.product(("log_mel", preset, view), lambda: mel_extractor(preset)(clip.audio(mel_request(preset,
                                                                                                          view))))


MAX_LOG_MEL = 20.0  # ln of a mel magnitude; full-scale audio stays far below


def rows_problem(array: Any, expected_rows: int | None) -> str | None:
    """A 1-D track whose length is not the reference's frame count."""
    if expected_rows is not None and getattr(array, "ndim", 0) == 1 and array.shape[0] != expected_rows:
        return f"{array.shape[0]} rows, expected {expected_rows}"
    return None


@dataclass(frozen=True)
class LogMel(Output):
    """``log(clamp(mel(|STFT| + ε), 1e-5))`` with Slaney filters: Amphion's ``utils/mel.py`` and, with the
    NSF-HiFiGAN preset, the mel so-vits-svc and DDSP-SVC train diffusion models on."""

    kind = "mel"

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        """``n_mels`` bins, values within ``log(1e-5)`` and a ceiling no audio reaches."""
        array = arrays[record.files[0].name]
        axis = record.frames.axis if record.frames else 1
        if array.ndim != 2 or (record.dim and array.shape[1 - axis] != record.dim):
            return f"shape {array.shape} is not ({record.dim} mel bins × frames)"
        low, high = float(array.min(initial=0.0)), float(array.max(initial=0.0))
        if low < np.log(1e-5) - 1e-3 or high > MAX_LOG_MEL:
            return f"log-mel values span [{low:.2f}, {high:.2f}]: not a log(clamp(mel, 1e-5)) of audio"
        return None
    stage = "mel"
    name: str
    preset: MelPreset
    view: View = RAW
    file: str = ""

    @property
    def files(self) -> tuple[FileRecord, ...]:
        shape = "(n_mels, T)" if self.preset.time_axis == 1 else "(T, n_mels)"
        return (FileRecord(self.file or self.name, "npy", "float32", shape),)

    @property
    def grid(self) -> OutputGrid:
        return mel_grid(self.preset, self.view)

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (self.grid.audio,)

    def decode(self, clip: Any) -> np.ndarray:
        return log_mel(clip, self.preset, self.view)

    def can_stream(self, model: Any = None) -> bool:
        return StreamSource.streamable(self.grid.audio)

    def row_stream(self, source: StreamSource, model: Any) -> RowStream:
        p = self.preset
        num_frames = p.num_frames(source.num_samples(self.grid.audio))
        shape = (p.n_mels, num_frames) if p.time_axis == 1 else (num_frames, p.n_mels)
        name = self.files[0].name
        blocks = ({name: (first, rows)} for first, rows in mel_rows(source, p, self.grid.audio, lambda mel: mel))
        return RowStream({name: FileShape(shape, "float32", p.time_axis)}, blocks, p.hop_length / p.sample_rate)

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return {self.files[0].name: partial}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"preset": self.preset.to_dict(), "view": view_settings(self.view)},
                            grid=self.grid.record(), frames=FramesRecord(self.files[0].name, self.preset.time_axis),
                            dim=self.preset.n_mels, svcprep_version=__version__)


@dataclass(frozen=True)
class MelEnergy(Output):
    """Frame energy from the natural-log mel, Amphion's ``from_mel``: ``sqrt(sum over bins of exp(mel)**2)``."""

    kind = "energy"

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        return rows_problem(arrays[record.files[0].name], expected_rows)
    stage = "mel"
    name: str
    preset: MelPreset
    frames: FramesRecord | None = None
    view: View = RAW

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord(self.name, "npy", "float32", "(T,)"),)

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (mel_request(self.preset, self.view),)

    def decode(self, clip: Any) -> np.ndarray:
        return energy_from_mel(log_mel(clip, self.preset, self.view), self.preset.time_axis)

    def can_stream(self, model: Any = None) -> bool:
        return StreamSource.streamable(mel_request(self.preset, self.view))

    def row_stream(self, source: StreamSource, model: Any) -> RowStream:
        p, request = self.preset, mel_request(self.preset, self.view)
        num_frames = p.num_frames(source.num_samples(request))
        blocks = ({self.name: (first, rows)} for first, rows in
                  mel_rows(source, p, request, lambda mel: energy_from_mel(mel, p.time_axis)))
        return RowStream({self.name: FileShape((num_frames,), "float32")}, blocks, p.hop_length / p.sample_rate)

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return {self.name: partial}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"preset": self.preset.to_dict(), "formula": "sqrt(sum(exp(mel)**2))",
                             "view": view_settings(self.view)},
                            grid=mel_grid(self.preset).record(), frames=self.frames, svcprep_version=__version__)


@dataclass(frozen=True)
class LinearSpectrogram(Output):
    """``sqrt(re² + im² + eps)`` of an STFT with ``center=False`` after a reflect pad of ``(n_fft - hop) / 2``
    (so-vits-svc's ``spectrogram_torch``): ``(n_fft // 2 + 1, num_samples // hop)`` float32."""

    kind = "spectrogram"
    stage = "spectrogram"
    name: str
    audio: AudioRequest
    n_fft: int
    hop_length: int
    win_length: int
    eps: float = 1e-6
    codec: str = "torch"
    frames: FramesRecord | None = None

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord(self.name, self.codec, "float32", "(n_fft/2+1, T)"),)

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (self.audio,)

    def decode(self, clip: Any) -> np.ndarray:
        return linear_spectrogram(clip.audio(self.audio), self.n_fft, self.hop_length, self.win_length, self.eps)

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return {self.name: partial}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"n_fft": self.n_fft, "win_length": self.win_length, "eps": self.eps,
                             "view": view_settings(self.audio.view)},
                            grid=OutputGrid(self.audio, self.hop_length).record(), frames=self.frames,
                            dim=self.n_fft // 2 + 1, svcprep_version=__version__)


@dataclass(frozen=True)
class Volume(Output):
    """Frame RMS: the squared signal reflect-padded by ``hop // 2`` and ``(hop + 1) // 2``, averaged over each
    hop-long window, square-rooted; ``num_samples // hop`` frames (``+ 1`` with ``plus_one``): so-vits-svc's and
    DDSP-SVC's ``Volume_Extractor``."""

    kind = "volume"

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        return rows_problem(arrays[record.files[0].name], expected_rows)
    stage = "volume"
    name: str
    grid: OutputGrid
    frames: FramesRecord | None = None

    @property
    def files(self) -> tuple[FileRecord, ...]:
        return (FileRecord(self.name, "npy", "float32", "(T,)"),)

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (self.grid.audio,)

    def decode(self, clip: Any) -> np.ndarray:
        wav = clip.audio(self.grid.audio)
        return frame_rms(wav, self.grid.hop_length, self.grid.num_frames(len(wav)))

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return {self.name: partial}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files, {"view": view_settings(self.grid.audio.view),
                                                               "plus_one": self.grid.plus_one},
                            grid=self.grid.record(), frames=self.frames, svcprep_version=__version__)


@dataclass(frozen=True)
class Augmentation:
    """A random gain (``log10`` shift in ``[-1, min(1, log10(1 / peak))]``) and, when ``max_keyshift`` > 0, a key
    shift in semitones, drawn per uid from a seed: the same on every rerun and shard. The key shift does not
    depend on the audio, so dataset tables of it can be written without decoding anything."""

    max_keyshift: float = 5.0
    seed: int = 0

    def _uniforms(self, uid: str) -> tuple[float, float]:
        import hashlib

        digest = hashlib.sha256(f"{self.seed}:{uid}".encode()).digest()
        u = np.random.default_rng(int.from_bytes(digest[:8], "little")).random(2)
        return float(u[0]), float(u[1])

    def keyshift(self, uid: str) -> float:
        return (2.0 * self._uniforms(uid)[1] - 1.0) * self.max_keyshift if self.max_keyshift else 0.0

    def log10_gain(self, uid: str, peak: float) -> float:
        max_shift = min(1.0, float(np.log10(1.0 / (peak + 1e-5))))
        return -1.0 + self._uniforms(uid)[0] * (max_shift + 1.0)


@dataclass(frozen=True)
class AugmentedMelVolume(Output):
    """The mel and the volume of ``audio · 10^gain``, the mel key-shifted (NSF-HiFiGAN's ``keyshift``): the
    ``aug_mel`` / ``aug_vol`` files of so-vits-svc's shallow diffusion and DDSP-SVC. ``files`` maps the role to
    the file name: ``mel`` (``(T, n_mels)``, or ``(mel, keyshift)`` as an object array with ``pair=True``),
    ``volume``. :meth:`keyshift` gives a uid's key shift without the audio (for dataset-level tables)."""

    kind = "augmentation"
    stage = "augmentation"
    name: str
    preset: MelPreset
    volume_grid: OutputGrid
    augmentation: Augmentation
    mel_file: str
    volume_file: str
    pair: bool = False
    view: View = RAW
    frames: FramesRecord | None = None

    @property
    def files(self) -> tuple[FileRecord, ...]:
        mel = (FileRecord(self.mel_file, "npy_object", "object", "(mel (T, n_mels), keyshift)") if self.pair
               else FileRecord(self.mel_file, "npy", "float32", "(T, n_mels)"))
        return (mel, FileRecord(self.volume_file, "npy", "float32", "(T,)"))

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return (mel_request(self.preset, self.view), self.volume_grid.audio)

    def decode(self, clip: Any) -> dict[str, Any]:
        wav = clip.audio(mel_request(self.preset, self.view))
        log10_gain = self.augmentation.log10_gain(clip.uid, float(np.max(np.abs(wav))))
        keyshift = self.keyshift(clip.id)
        gain = 10.0 ** log10_gain
        mel = keyshift_log_mel(wav * np.float32(gain), self.preset, keyshift)
        vol_wav = clip.audio(self.volume_grid.audio)
        volume = frame_rms(vol_wav * np.float32(gain), self.volume_grid.hop_length,
                           self.volume_grid.num_frames(len(vol_wav)))
        return {"mel": mel, "volume": volume, "keyshift": keyshift, "log10_gain": log10_gain}

    def keyshift(self, id: EntryId) -> float:
        return self.augmentation.keyshift(str(id))

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        mel = (partial["mel"], partial["keyshift"]) if self.pair else partial["mel"]
        return {self.mel_file: mel, self.volume_file: partial["volume"]}

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files,
                            {"preset": self.preset.to_dict(), "augmentation": {
                                "max_keyshift": self.augmentation.max_keyshift, "seed": self.augmentation.seed},
                             "pair": self.pair, "view": view_settings(self.view)},
                            grid=self.volume_grid.record(), frames=self.frames, svcprep_version=__version__)
