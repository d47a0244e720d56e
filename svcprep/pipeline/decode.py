"""Decode stage: each file is decoded once, in DataLoader workers, and resampled once per needed rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svcprep.audio.io import decode, resample, resampled_num_samples, to_channels
from svcprep.errors import SvcprepError
from svcprep.pipeline.corpus import CorpusEntry
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
    error: tuple[str, str] | None = None  # (stage, reason)


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
                 compute_mel: bool, mel_frames: dict[str, int]) -> None:
        """``mel_frames``: frame counts of mels already on disk (the alignment target when not computing)."""
        self.batches, self.layouts, self.preset = batches, sorted(layouts), preset
        self.compute_mel, self.mel_frames = compute_mel, mel_frames
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
        stage = "decode"
        try:
            audio = decode(entry.path)
            clip.seconds = audio.seconds
            stage = "resample"
            mono_cache: dict[int, np.ndarray] = {}
            for rate, channels in self.layouts:
                x = resample(to_channels(audio, channels), audio.sample_rate, rate)
                clip.audio[(rate, channels)] = x
                if channels == 1:
                    mono_cache[rate] = x
            stage = "mel"
            p = self.preset
            if self.compute_mel:
                wav = mono_cache.get(p.sample_rate)
                if wav is None:
                    wav = resample(to_channels(audio, 1), audio.sample_rate, p.sample_rate)
                clip.mel = self._mel_extractor()(wav)
                clip.mel_frames = clip.mel.shape[p.time_axis]
            else:
                if entry.uid in self.mel_frames:
                    clip.mel_frames = self.mel_frames[entry.uid]
                else:
                    clip.mel_frames = p.num_frames(resampled_num_samples(audio.num_samples, audio.sample_rate,
                                                                         p.sample_rate))
        except (SvcprepError, OSError, ValueError, RuntimeError) as exc:
            clip.error = (stage, str(exc))
            clip.audio.clear()
        return clip


def keep_batch(batch: list[DecodedClip]) -> list[DecodedClip]:
    """DataLoader ``collate_fn``: batches are already lists of clips."""
    return batch
