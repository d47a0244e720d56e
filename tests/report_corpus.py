"""A corpus with planted defects for ``svcprep report``: clean sung clips, and one clip per flag, each made so that
it has that defect and no other (the expected flags are part of the corpus)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 44100
NOISE_FLOOR = 10 ** (-75 / 20)  # a quiet room between phrases


def sung(seconds: float, f0_hz: float = 220.0, sample_rate: int = SAMPLE_RATE, seed: int = 0,
         phrase_seconds: float = 1.0, pause_seconds: float = 0.4, peak: float = 0.5,
         noise_floor: float = NOISE_FLOOR) -> np.ndarray:
    """Phrases of a harmonic voice (every harmonic up to 0.45 × the rate at 1/k, 5 Hz vibrato), separated by pauses
    holding only a -75 dBFS noise floor: broadband, in tune, with pauses, as clean singing is."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = f0_hz * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, int(0.45 * sample_rate / f0_hz) + 1))
    period = phrase_seconds + pause_seconds
    in_phrase = (t % period) < phrase_seconds
    ramp = np.minimum(1.0, np.minimum(t % period, phrase_seconds - t % period) / 0.02)
    voice = voice * np.where(in_phrase, np.clip(ramp, 0, 1), 0.0)
    voice *= peak / np.abs(voice).max()
    return voice + rng.normal(0.0, noise_floor, n)


def write(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, sample_rate, subtype=subtype)
    return path


def planted_corpus(root: Path) -> dict[str, list[str]]:
    """Write the corpus under ``root``; returns uid -> the flags it must get (``[]`` for a clean clip)."""
    expected: dict[str, list[str]] = {}

    def add(uid: str, samples: np.ndarray, flags: list[str], suffix: str = ".wav", **kwargs) -> None:
        write(root / f"{uid}{suffix}", samples, **kwargs)
        expected[uid] = flags

    add("alice/clean_1", sung(4.0, 220.0, seed=1), [])
    add("alice/clean_2", sung(5.0, 330.0, seed=2), [])
    add("bob/clean_3", sung(4.0, 147.0, seed=3, peak=0.3), [])
    add("alice/clipped", np.clip(sung(4.0, 262.0, seed=4) * 6.0, -1.0, 1.0), ["clipped"], subtype="FLOAT")
    clean = sung(4.0, 196.0, seed=5, peak=0.3)
    noise = np.random.default_rng(6).normal(0.0, 1.0, clean.size)
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-10 / 20)  # 10 dB below the voice
    add("alice/noisy", clean + noise, ["noisy"])
    narrow = sung(4.0, 220.0, sample_rate=8000, seed=7)  # a telephone-rate recording, upsampled
    add("bob/band_limited", soxr.resample(narrow, 8000, SAMPLE_RATE), ["band_limited"])
    add("bob/dc_offset", sung(4.0, 247.0, seed=8) + 0.05, ["dc_offset"], subtype="FLOAT")
    short = np.concatenate([sung(0.15, 220.0, seed=9, phrase_seconds=0.15, pause_seconds=0.0),
                            np.random.default_rng(9).normal(0.0, NOISE_FLOOR, int(0.1 * SAMPLE_RATE))])
    add("alice/too_short", short, ["too_short"])
    add("bob/too_long", sung(16.0, 196.0, seed=10), ["too_long"])
    add("alice/mostly_silent", sung(4.0, 220.0, seed=11, phrase_seconds=1.0, pause_seconds=3.0),
        ["mostly_silent"])
    add("bob/too_high", sung(4.0, 1400.0, seed=12), ["pitch_out_of_range"])
    # The same samples as alice/clean_1 in another container under another name.
    add("bob/copy_of_clean_1", sf.read(root / "alice/clean_1.wav", dtype="int16")[0], ["duplicate"],
        suffix=".flac")
    return expected
