"""A small synthetic singing corpus: harmonic notes with vibrato, formant-shaped, at mixed rates and layouts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMANTS_HZ = ((700.0, 130.0), (1220.0, 70.0), (2600.0, 160.0))  # an open "a" vowel: (centre, bandwidth)


def sing(seconds: float, sample_rate: int, seed: int, channels: int = 1) -> np.ndarray:
    """A sung phrase: notes of a random melody, 5.5 Hz vibrato, vowel formants, note envelopes, breath noise.

    Returns float32 ``(num_samples,)`` for mono, ``(num_samples, channels)`` otherwise; peak about 0.5.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    num_notes = max(1, int(seconds / 0.5))
    midi = 57 + rng.choice([0, 2, 4, 5, 7, 9, 11, 12], size=num_notes)
    note_index = np.minimum((t / seconds * num_notes).astype(int), num_notes - 1)
    f0 = 440.0 * 2 ** ((midi[note_index] - 69) / 12)
    f0 = f0 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t))  # ±30 cents vibrato
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wav = np.zeros(n)
    for k in range(1, 40):
        freq = k * f0
        gain = sum(np.exp(-0.5 * ((freq - c) / bw) ** 2) for c, bw in FORMANTS_HZ) + 0.05 / k
        wav += np.where(freq < sample_rate / 2, gain, 0.0) * np.sin(k * phase)
    note_pos = (t / seconds * num_notes) % 1.0
    envelope = np.minimum(1.0, note_pos / 0.1) * np.minimum(1.0, (1.0 - note_pos) / 0.15)
    wav = wav * envelope + 0.01 * rng.standard_normal(n)
    wav = (0.5 * wav / (np.abs(wav).max() + 1e-9)).astype(np.float32)
    if channels == 1:
        return wav
    return np.stack([wav * (1.0 - 0.2 * c) for c in range(channels)], axis=1)


@dataclass(frozen=True)
class SyntheticFile:
    relative_path: str
    seconds: float
    sample_rate: int
    channels: int


DEMO_FILES = (
    SyntheticFile("singer_a/phrase_01.wav", 2.5, 44100, 1),
    SyntheticFile("singer_a/phrase_02.flac", 4.0, 24000, 2),
    SyntheticFile("singer_a/phrase_03.wav", 1.2, 16000, 1),
    SyntheticFile("singer_b/phrase_01.ogg", 3.3, 48000, 2),
    SyntheticFile("singer_b/phrase_02.wav", 5.1, 22050, 1),
    SyntheticFile("singer_b/phrase_03.flac", 0.8, 32000, 1),
)


def write_corpus(root: Path, files: tuple[SyntheticFile, ...] = DEMO_FILES, seed: int = 0) -> list[Path]:
    import soundfile as sf

    paths = []
    for i, f in enumerate(files):
        path = root / f.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), sing(f.seconds, f.sample_rate, seed + i, f.channels), f.sample_rate)
        paths.append(path)
    return paths


# -- a sung line with known F0 (pitch tests and benchmark) --------------------------------------------------
def known_f0(t: np.ndarray) -> np.ndarray:
    """F0 in Hz at times ``t``: a 220 → 330 Hz glide from 0.2 s to 1.2 s, 5.5 Hz ±100 cents vibrato throughout."""
    glide = 220.0 * 2 ** (np.clip((t - 0.2) / 1.0, 0, 1) * 7 / 12)
    return glide * 2 ** (100 * np.sin(2 * np.pi * 5.5 * t) / 1200)


def known_voicing(t: np.ndarray, gaps: tuple[tuple[float, float], ...]) -> np.ndarray:
    return ~np.any([(t > a) & (t < b) for a, b in gaps], axis=0) if gaps else np.ones(len(t), bool)


def known_pitch_clip(sample_rate: int, seconds: float, gaps: tuple[tuple[float, float], ...],
                     seed: int = 0) -> np.ndarray:
    """Seven harmonics on :func:`known_f0`, silent (−80 dB noise) inside ``gaps``; float32 mono."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(known_f0(t)) / sample_rate
    harmonics = sum(np.sin(k * phase) * (0.6 / k) for k in range(1, 8))
    noise = 1e-4 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * harmonics * known_voicing(t, gaps) + noise).astype(np.float32)


def song(seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """A sung phrase (:func:`sing`) over an accompaniment (a bass line and a sustained chord, panned apart):
    stereo float32 ``(num_samples, 2)``, peak below 1 — a mix for separation to take the voice out of."""
    voice = sing(seconds, sample_rate, seed)
    t = np.arange(len(voice)) / sample_rate
    bass = 0.12 * np.sign(np.sin(2 * np.pi * 55.0 * 2 ** (np.floor(t) % 3 * 5 / 12) * t))
    chord = sum(0.05 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    left, right = voice + bass + 0.6 * chord, 0.9 * voice + 0.6 * bass + chord
    return (0.9 * np.stack([left, right], axis=1) / 1.2).astype(np.float32)
