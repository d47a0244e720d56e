"""Decode stage, in DataLoader workers: each file is decoded once and resampled once per needed rate; the mel,
its energy and the pitch (CPU work) are computed here too, beside the models in the main process."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svcprep.audio.io import decode, resample, resampled_num_samples, to_channels
from svcprep.errors import SvcprepError
from svcprep.pipeline.corpus import CorpusEntry
from svcprep.pitch.settings import PitchSettings
from svcprep.presets import MelPreset

Layout = tuple[int, int]  # (sample_rate, channels)


@dataclass
class DecodedClip:
    uid: str
    path: Path
    seconds: float = 0.0
    audio: dict[Layout, np.ndarray] = field(default_factory=dict)
    mel: np.ndarray | None = None
    mel_frames: int = 0
    energy: np.ndarray | None = None
    pitch: np.ndarray | None = None
    error: tuple[str, str] | None = None  # (stage, reason): the clip is lost
    pitch_error: str | None = None  # only the pitch is lost
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, for --profile


def make_batches(entries: list[tuple[CorpusEntry, float]], batch_seconds: float) -> list[list[CorpusEntry]]:
    """Length-sorted batches holding at most ``batch_seconds`` of audio each (a longer file goes alone)."""
    batches: list[list[CorpusEntry]] = []
    current: list[CorpusEntry] = []
    total = 0.0
    for entry, seconds in sorted(entries, key=lambda e: e[1], reverse=True):
        if current and total + seconds > batch_seconds:
            batches.append(current)
            current, total = [], 0.0
        current.append(entry)
        total += seconds
    if current:
        batches.append(current)
    return batches


class DecodeDataset:
    """Map-style dataset: item ``i`` is batch ``i`` decoded into :class:`DecodedClip` objects."""

    def __init__(self, batches: list[list[CorpusEntry]], layouts: set[Layout], preset: MelPreset,
                 compute_mel: bool, mel_frames: dict[str, int], pitch: PitchSettings | None = None,
                 compute_energy: bool = False) -> None:
        """``mel_frames``: frame counts of mels already on disk (the target length when not computing)."""
        self.batches, self.layouts, self.preset = batches, sorted(layouts), preset
        self.compute_mel, self.mel_frames = compute_mel or compute_energy, mel_frames
        self.pitch, self.compute_energy = pitch, compute_energy
        self._mel = None

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> list[DecodedClip]:
        return [self._decode(entry) for entry in self.batches[index]]

    def _mel_extractor(self):
        if self._mel is None:
            from svcprep.audio.mel import MelExtractor

            self._mel = MelExtractor(self.preset)
        return self._mel

    def _decode(self, entry: CorpusEntry) -> DecodedClip:
        clip = DecodedClip(entry.uid, entry.path)
        stage, started = "decode", time.perf_counter()

        def next_stage(name: str) -> None:
            nonlocal stage, started
            now = time.perf_counter()
            clip.timings[stage] = clip.timings.get(stage, 0.0) + now - started
            stage, started = name, now

        try:
            audio = decode(entry.path)
            clip.seconds = audio.seconds
            next_stage("resample")
            mono_cache: dict[int, np.ndarray] = {}
            for rate, channels in self.layouts:
                x = resample(to_channels(audio, channels), audio.sample_rate, rate)
                clip.audio[(rate, channels)] = x
                if channels == 1:
                    mono_cache[rate] = x
            p = self.preset
            wav = mono_cache.get(p.sample_rate) if p.resample_length == "soxr" else None
            if wav is None and (self.compute_mel or self.pitch):
                wav = resample(to_channels(audio, 1), audio.sample_rate, p.sample_rate, p.resample_length)
            next_stage("mel")
            if self.compute_mel:
                clip.mel = self._mel_extractor()(wav)
                clip.mel_frames = clip.mel.shape[p.time_axis]
                if self.compute_energy:
                    from svcprep.audio.mel import energy_from_mel

                    clip.energy = energy_from_mel(clip.mel, p.time_axis)
            elif entry.uid in self.mel_frames:
                clip.mel_frames = self.mel_frames[entry.uid]
            else:
                clip.mel_frames = p.num_frames(resampled_num_samples(audio.num_samples, audio.sample_rate,
                                                                     p.sample_rate, p.resample_length))
            if self.pitch is not None:
                next_stage("pitch")
                self._add_pitch(clip, wav)
            next_stage("done")
        except (SvcprepError, OSError, ValueError, RuntimeError) as exc:
            clip.error = (stage, str(exc))
            clip.audio.clear()
        return clip

    def _add_pitch(self, clip: DecodedClip, wav: np.ndarray) -> None:
        from svcprep.pitch.tracking import pitch_on_mel_grid

        try:
            clip.pitch = pitch_on_mel_grid(wav, self.preset, clip.mel_frames, self.pitch)
        except (SvcprepError, RuntimeError, ValueError) as exc:  # parselmouth raises PraatError (RuntimeError)
            clip.pitch_error = str(exc)


def keep_batch(batch: list[DecodedClip]) -> list[DecodedClip]:
    """DataLoader ``collate_fn``: batches are already lists of clips."""
    return batch
