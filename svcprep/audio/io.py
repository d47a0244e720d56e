"""Audio decoding and resampling (soundfile + soxr). No torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svcprep.audio.sinc import sinc_resample
from svcprep.errors import AudioLoadError, SvcprepError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")
# Float files hold samples within about ±1; far beyond that they are not audio (and their squares overflow).
MAX_ABS_SAMPLE = 1e4


@dataclass(frozen=True)
class Audio:
    """Decoded audio: ``samples`` float32 ``(num_samples, channels)`` at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def num_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def seconds(self) -> float:
        return self.num_samples / self.sample_rate


def check_regular_file(path: Path) -> None:
    """Only regular files are opened: a FIFO or a device would block or stream forever."""
    if not Path(path).is_file():
        what = "does not exist" if not Path(path).exists() else "is not a regular file (a FIFO, device or dir)"
        raise AudioLoadError(f"{path} {what}")


def probe_seconds(path: Path) -> float:
    """Duration from the file header; raises :class:`AudioLoadError` when the file is unreadable."""
    import soundfile as sf

    check_regular_file(path)
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError) as exc:
        raise AudioLoadError(f"cannot read audio header: {exc}") from exc
    if info.samplerate <= 0:
        raise AudioLoadError("audio header has no sample rate")
    return info.frames / info.samplerate


def seconds_or_zero(path: Path) -> float:
    """:func:`probe_seconds`, or 0 for a file whose header cannot be read (it is reported where it is read)."""
    try:
        return probe_seconds(path)
    except SvcprepError:
        return 0.0


def decode(path: Path) -> Audio:
    """Decode a file to float32 ``(num_samples, channels)``; empty, non-finite or far out-of-range audio is an
    error."""
    import soundfile as sf

    check_regular_file(path)
    try:
        samples, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, sf.LibsndfileError) as exc:
        raise AudioLoadError(f"cannot decode audio: {exc}") from exc
    if samples.shape[0] == 0:
        raise AudioLoadError("audio file has no samples")
    # One pass over the extremes, no |x| or isfinite copy of the file: NaN propagates, ±inf is an extreme.
    peak = max(float(samples.max()), -float(samples.min()))
    if not np.isfinite(peak):
        raise AudioLoadError("audio contains NaN or infinite samples")
    if peak > MAX_ABS_SAMPLE:
        raise AudioLoadError(f"peak amplitude {peak:.3g}: float audio is expected within about ±1; this file "
                             "is not audio as written (rescale it)")
    return Audio(samples, int(sample_rate))


# librosa_vhq: librosa's length, soxr's very-high quality; torchaudio: its windowed-sinc Resample (svcprep.audio.sinc)
LENGTH_RULES = ("soxr", "librosa", "librosa_vhq", "torchaudio")


def resampled_num_samples(num_samples: int, from_rate: int, to_rate: int, length_rule: str = "soxr") -> int:
    """Length after resampling a whole buffer.

    ``soxr``: ``num_samples * to / from`` rounded half up (what soxr returns). ``librosa``: the length
    ``librosa.load(sr=...)`` / ``librosa.resample`` pad or cut soxr's output to, ``ceil`` of the product with the
    float ratio ``to / from`` (Amphion loads audio this way: 64801 samples where soxr gives 64800, and 31201 for
    28665 samples at 22.05 kHz, where the exact ratio gives 31200).
    """
    if from_rate == to_rate:
        return num_samples
    if length_rule == "torchaudio":
        return -(-num_samples * to_rate // from_rate)
    if length_rule in ("librosa", "librosa_vhq"):
        return int(math.ceil(num_samples * (float(to_rate) / from_rate)))
    return (2 * num_samples * to_rate + from_rate) // (2 * from_rate)


def to_channels(audio: Audio, channels: int) -> np.ndarray:
    """Mono ``(N,)`` by averaging channels, or ``(N, channels)`` (mono duplicated; surround to stereo by
    :func:`surround_to_stereo`, other extra channels dropped)."""
    x = audio.samples
    if channels == 1:  # a mono file's own samples, not a copy (nothing downstream writes into audio in place)
        return x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else np.ascontiguousarray(x[:, 0])
    if x.shape[1] == 1:
        return np.repeat(x, channels, axis=1)
    if channels == 2 and x.shape[1] > 2:
        return surround_to_stereo(x)
    return np.ascontiguousarray(x[:, :channels])


# ITU-R BS.775 downmix to stereo of WAV's channel orders (L, R, C, LFE, Ls, Rs, ...): the centre, where a mix puts
# its voice, and the surrounds at -3 dB into each side, the LFE left out; each row scaled to sum 1 (no overshoot).
_C, _S = np.sqrt(0.5), np.sqrt(0.5)
_DOWNMIX = {
    3: ((1, 0, _C), (0, 1, _C)),  # L R C
    4: ((1, 0, _S, 0), (0, 1, 0, _S)),  # L R Ls Rs
    5: ((1, 0, _C, _S, 0), (0, 1, _C, 0, _S)),  # L R C Ls Rs
    6: ((1, 0, _C, 0, _S, 0), (0, 1, _C, 0, 0, _S)),  # 5.1
    8: ((1, 0, _C, 0, _S, 0, _S, 0), (0, 1, _C, 0, 0, _S, 0, _S)),  # 7.1
}


def surround_to_stereo(x: np.ndarray) -> np.ndarray:
    """``(N, C)`` with C > 2 → ``(N, 2)`` by BS.775's downmix (other channel counts: every channel into both)."""
    matrix = np.asarray(_DOWNMIX.get(x.shape[1], (np.ones(x.shape[1]), np.ones(x.shape[1]))), dtype=np.float64)
    matrix = (matrix / matrix.sum(axis=1, keepdims=True)).astype(np.float32)
    return np.ascontiguousarray(x @ matrix.T, dtype=np.float32)


def soundfile_pcm16(wav: np.ndarray) -> np.ndarray:
    """``(N,)`` int16 as ``soundfile.write(..., subtype="PCM_16")`` stores float samples (libsndfile 1.2): to
    int32 (× 2³¹, rounded, clipped), then its top 16 bits."""
    as_int32 = np.clip(np.rint(np.asarray(wav, np.float64) * 2.0**31), -(2**31), 2**31 - 1).astype(np.int64)
    return (as_int32 >> 16).astype(np.int16)


def resample(x: np.ndarray, from_rate: int, to_rate: int, length_rule: str = "soxr") -> np.ndarray:
    """soxr high-quality resampling along the first axis (identity when the rates match).

    ``length_rule="librosa"`` zero-pads or cuts the result to :func:`resampled_num_samples`'s ``librosa`` length;
    ``"librosa_vhq"`` does the same with soxr's very-high quality (librosa's ``res_type="soxr_vhq"``).
    """
    if from_rate == to_rate:
        return x.astype(np.float32, copy=False)
    if length_rule == "torchaudio":
        return sinc_resample(x, from_rate, to_rate)
    import soxr

    quality = "VHQ" if length_rule == "librosa_vhq" else "HQ"
    y = soxr.resample(x, from_rate, to_rate, quality=quality).astype(np.float32, copy=False)
    if length_rule == "soxr":
        return y
    wanted = resampled_num_samples(len(x), from_rate, to_rate, length_rule)
    if len(y) >= wanted:
        return y[:wanted]
    return np.concatenate([y, np.zeros((wanted - len(y), *y.shape[1:]), np.float32)])
