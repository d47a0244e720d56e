"""RIFT-SVC's rules (``Pur1zumu/RIFT-SVC`` at c03fa59): its audio step, its mel and RMS, its F0 post-processing,
its content pair on a 10 ms grid, its split and the checks of its tree.

``T = N // 512`` frames for the ``N`` samples of a 44.1 kHz wav: the mel and the RMS reflect-pad ``(2048 - 512) //
2 = 768`` samples on each side before framing without centring; the F0 (a tracker's 10 ms values, unvoiced filled
by linear interpolation, resampled linearly onto ``k·512/44100`` with the interpolated voicing above one half kept,
the last of ``N // 512 + 1`` values dropped) has the same ``T``.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from svcprep.audio.mel import slaney_mel_filters
from svcprep.audio.spectra import linear_spectrogram

SAMPLE_RATE, HOP, N_FFT, N_MELS, FMIN, FMAX = 44100, 512, 2048, 128, 40.0, 16000.0
TARGET_LUFS, HEADROOM_PEAK = -18.0, 0.99
SHIFT_SAMPLES = 160  # the second content pass: the 16 kHz audio 10 ms later (rolled left, tail zeroed)
META_INFO, SEED, TEST_PER_SPEAKER = "meta_info.json", 42, 1


def log_mel(wav: np.ndarray) -> np.ndarray:
    """``(1, 128, N // 512)`` float32: ``log(clamp(slaney_mel(40-16000 Hz) @ sqrt(|STFT|² + 1e-9), 1e-5))``, Hann
    2048, hop 512, reflect padding 768 each side, ``center=False`` (its ``get_mel_spectrogram``)."""
    magnitude = linear_spectrogram(wav, N_FFT, HOP, N_FFT, 1e-9)
    filters = slaney_mel_filters(SAMPLE_RATE, N_FFT, N_MELS, FMIN, FMAX)
    mel = np.log(np.maximum(filters.astype(np.float32) @ magnitude, 1e-5))
    return mel[None].astype(np.float32)


def rms(wav: np.ndarray) -> np.ndarray:
    """``(1, N // 512)`` float32: the square root of the mean of ``wav²`` reflect-padded by 768, in windows of
    2048 every 512 (its ``RMSExtractor``: no window, no dB)."""
    pad = (N_FFT - HOP) // 2
    squared = np.pad(np.asarray(wav, np.float32) ** 2, (pad, pad), mode="reflect")
    num_frames = (len(squared) - N_FFT) // HOP + 1
    frames = np.lib.stride_tricks.sliding_window_view(squared, N_FFT)[::HOP][:num_frames]
    return np.sqrt(frames.mean(axis=1, dtype=np.float32))[None].astype(np.float32)


def post_process_f0(f0_10ms: np.ndarray, num_samples: int) -> np.ndarray:
    """``(N // 512,)`` float32 Hz, 0 unvoiced: its ``post_process_f0(f0, 44100, 512, N // 512 + 1)``."""
    f0 = np.asarray(f0_10ms, dtype=np.float64).copy()
    uv = f0 == 0
    if np.any(~uv):
        f0[uv] = np.interp(np.where(uv)[0], np.where(~uv)[0], f0[~uv])
    else:
        f0 = np.zeros_like(f0)
    origin = 0.01 * np.arange(len(f0))
    target = HOP / SAMPLE_RATE * np.arange(num_samples // HOP + 1)
    out = np.interp(target, origin, f0)
    out[np.interp(target, origin, uv.astype(float)) > 0.5] = 0
    return out[:-1].astype(np.float32)


def stratified_split(files_by_speaker: dict[str, list[str]]) -> tuple[list[dict], list[dict], list[str]]:
    """``(train, test, speakers with one file)``: its stratified rule (``random.seed(42)``, one test file per
    speaker drawn with ``random.sample`` in the order speakers are listed), except that a speaker with a single
    file trains on it instead of testing on it (a model must hear every singer)."""
    rng = random.Random(SEED)
    train, test, alone = [], [], []
    for speaker in sorted(files_by_speaker):
        files = sorted(files_by_speaker[speaker])
        if len(files) <= TEST_PER_SPEAKER:
            alone.append(speaker)
            chosen: list[str] = []
        else:
            chosen = rng.sample(files, TEST_PER_SPEAKER)
        test += [{"speaker": speaker, "file_name": f} for f in chosen]
        train += [{"speaker": speaker, "file_name": f} for f in files if f not in chosen]
    return train, test, alone


def check_meta(meta: Any, wavs: set[tuple[str, str]]) -> list[str]:
    """What its loader would trip on in ``meta_info.json``, given the ``(speaker, stem)`` of every wav."""
    if not isinstance(meta, dict) or not {"speakers", "train_audios", "test_audios"} <= set(meta):
        return ["not a RIFT-SVC meta_info.json (speakers, train_audios, test_audios)"]
    listed = [(a.get("speaker"), a.get("file_name")) for a in meta["train_audios"] + meta["test_audios"]]
    problems = []
    if not meta["train_audios"]:
        problems.append("train_audios is empty")
    if len(set(listed)) != len(listed):
        problems.append("a file is listed twice")
    if set(listed) != wavs:
        missing, extra = sorted(wavs - set(listed))[:3], sorted(set(listed) - wavs)[:3]
        problems.append(f"the lists do not name every wav once (unlisted {missing}, listed but absent {extra})")
    if meta["speakers"] != sorted({speaker for speaker, _ in wavs}):
        problems.append("speakers is not the sorted list of speaker dirs")
    return problems


@dataclass(frozen=True)
class InterleavedFrames:
    """Two passes of a content model, the second 10 ms later, rows interleaved: ``2·n`` frames on half its hop."""

    inner: Any

    def num_frames(self, num_samples: int) -> int:
        return 2 * self.inner.num_frames(num_samples)

    @property
    def hop_length(self) -> int:
        return self.inner.hop_length // 2

    @property
    def min_samples(self) -> int:
        return self.inner.min_samples

    def describe(self) -> str:
        return f"{self.inner.describe()}, run twice 10 ms apart and interleaved"


@dataclass(frozen=True)
class ShiftedPair:
    """A resolved content model run on each clip and on the clip ``SHIFT_SAMPLES`` later, rows interleaved
    ``a0, b0, a1, b1, ...`` (its ``prepare_cvec.py``): ``.spec``, ``.model_key``, ``.path``, ``.load()``."""

    inner: Any

    @property
    def spec(self):
        spec = self.inner.spec
        return dataclasses.replace(spec, name=f"{spec.name}+10ms", frames=InterleavedFrames(spec.frames))

    @property
    def model_key(self) -> tuple:
        return ("shifted-pair", SHIFT_SAMPLES, self.inner.model_key)

    @property
    def path(self):
        return self.inner.path

    @property
    def model(self):
        return self.inner.model

    def load(self) -> ShiftedPairModel:
        return ShiftedPairModel(self.inner.load(), self.spec)


class ShiftedPairModel:
    def __init__(self, model: Any, spec: Any) -> None:
        self.model, self.spec = model, spec

    @property
    def max_batch_samples(self) -> int:
        return self.model.max_batch_samples

    @max_batch_samples.setter
    def max_batch_samples(self, value: int) -> None:
        self.model.max_batch_samples = value

    def extract(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        shifted = [np.concatenate([w[SHIFT_SAMPLES:], np.zeros(min(SHIFT_SAMPLES, len(w)), w.dtype)]) for w in waves]
        outputs = self.model.extract([*waves, *shifted])
        pairs = zip(outputs[: len(waves)], outputs[len(waves):], strict=True)
        return [np.stack([a, b], axis=1).reshape(2 * a.shape[0], a.shape[1]) for a, b in pairs]
