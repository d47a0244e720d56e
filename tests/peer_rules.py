"""The peer projects' published rules, written out from their code's behaviour with librosa, torch and numpy
alone (never svcprep's code): the independent references of the recipe tests."""

from __future__ import annotations

import numpy as np
import torch


# -- so-vits-svc 4.1 ----------------------------------------------------------------------------------------
def sovits_resample(path: str, target_sr: int = 44100, skip_loudnorm: bool = False) -> tuple[np.ndarray, int]:
    """resample.py: librosa.load(sr=None), trim(top_db=40), peak scaled to 0.98 if above 1, librosa.resample,
    divided by its peak, written ``(wav * 32767).astype(int16)``; returns (int16 samples, trimmed start in source
    samples)."""
    import librosa

    wav, sr = librosa.load(path, sr=None)
    trimmed, (start, _) = librosa.effects.trim(wav, top_db=40)
    peak = np.abs(trimmed).max()
    if peak > 1.0:
        trimmed = 0.98 * trimmed / peak
    out = librosa.resample(trimmed, orig_sr=sr, target_sr=target_sr)
    if not skip_loudnorm:
        out = out / np.max(np.abs(out))
    return (out * np.iinfo(np.int16).max).astype(np.int16), int(start)


def sovits_volume(audio: np.ndarray, hop: int = 512) -> np.ndarray:
    """utils.Volume_Extractor.extract: squared audio reflect-padded, unfolded in hop windows, mean, sqrt."""
    x = torch.from_numpy(np.asarray(audio, np.float32))[None]
    frames = int(x.size(-1) // hop)
    squared = torch.nn.functional.pad(x**2, (hop // 2, (hop + 1) // 2), mode="reflect")
    volume = torch.nn.functional.unfold(squared[:, None, None, :], (1, hop), stride=hop)[:, :, :frames].mean(dim=1)[0]
    return torch.sqrt(volume).numpy()


def sovits_spectrogram(audio: np.ndarray, n_fft: int = 2048, hop: int = 512, win: int = 2048) -> np.ndarray:
    """modules.mel_processing.spectrogram_torch with center=False."""
    y = torch.from_numpy(np.asarray(audio, np.float32))[None]
    y = torch.nn.functional.pad(y.unsqueeze(1), (int((n_fft - hop) / 2), int((n_fft - hop) / 2)), mode="reflect")
    spec = torch.stft(y.squeeze(1), n_fft, hop_length=hop, win_length=win, window=torch.hann_window(win),
                      center=False, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = torch.view_as_real(spec)
    return torch.sqrt(spec.pow(2).sum(-1) + 1e-6)[0].numpy()


# -- NSF-HiFiGAN's mel (so-vits-svc's and DDSP-SVC's diffusion) ----------------------------------------------
def nsf_mel(audio: np.ndarray, keyshift: float = 0.0, sr: int = 44100, n_fft: int = 2048, win: int = 2048,
            hop: int = 512, n_mels: int = 128, fmin: float = 40, fmax: float = 16000) -> np.ndarray:
    """nsf_hifigan.nvSTFT.STFT.get_mel (librosa filters), transposed to (T, n_mels)."""
    import librosa

    y = torch.from_numpy(np.asarray(audio, np.float32))[None]
    factor = 2 ** (keyshift / 12)
    n_fft_new, win_new = int(np.round(n_fft * factor)), int(np.round(win * factor))
    pad_left = (win_new - hop) // 2
    pad_right = max((win_new - hop + 1) // 2, win_new - y.size(-1) - pad_left)
    mode = "reflect" if pad_right < y.size(-1) else "constant"
    y = torch.nn.functional.pad(y.unsqueeze(1), (pad_left, pad_right), mode=mode).squeeze(1)
    spec = torch.stft(y, n_fft_new, hop_length=hop, win_length=win_new, window=torch.hann_window(win_new),
                      center=False, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    if keyshift != 0:
        size = n_fft // 2 + 1
        if spec.size(1) < size:
            spec = torch.nn.functional.pad(spec, (0, 0, 0, size - spec.size(1)))
        spec = spec[:, :size, :] * win / win_new
    basis = torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)).float()
    return torch.log(torch.clamp(torch.matmul(basis, spec), min=1e-5))[0].T.numpy()


# -- DDSP-SVC ----------------------------------------------------------------------------------------------------
def ddsp_volume(audio: np.ndarray, hop: int = 512) -> np.ndarray:
    """ddsp.vocoder.Volume_Extractor.extract."""
    n_frames = int(len(audio) // hop) + 1
    squared = np.pad(np.asarray(audio) ** 2, (int(hop // 2), int((hop + 1) // 2)), mode="reflect")
    return np.sqrt(np.array([np.mean(squared[int(n * hop): int((n + 1) * hop)]) for n in range(n_frames)]))


def ddsp_units_index(n_frames: int, num_units: int, hop: int = 512, sr: int = 44100) -> np.ndarray:
    """Units_Encoder.encode's alignment: round(i · (hop/sr) / (320/16000)), clamped to the last unit."""
    ratio = (hop / sr) / (320 / 16000)
    return torch.clamp(torch.round(ratio * torch.arange(n_frames)).long(), max=num_units - 1).numpy()


# -- RVC ------------------------------------------------------------------------------------------------------------
def rvc_coarse(f0: np.ndarray) -> np.ndarray:
    """extract_f0_rmvpe.FeatureInput.coarse_f0."""
    f0_bin, f0_max, f0_min = 256, 1100.0, 50.0
    mel_min, mel_max = 1127 * np.log(1 + f0_min / 700), 1127 * np.log(1 + f0_max / 700)
    f0_mel = 1127 * np.log(1 + np.asarray(f0, dtype=np.float64) / 700)
    f0_mel[f0_mel > 0] = (f0_mel[f0_mel > 0] - mel_min) * (f0_bin - 2) / (mel_max - mel_min) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > f0_bin - 1] = f0_bin - 1
    return np.rint(f0_mel).astype(int)


def rvc_normalise(piece: np.ndarray) -> np.ndarray:
    """preprocess.PreProcess.norm_write: x / max|x| · 0.9 · 0.75 + 0.25 · x."""
    return piece / np.abs(piece).max() * (0.9 * 0.75) + (1 - 0.75) * piece


def rvc_highpass(audio: np.ndarray, sr: int) -> np.ndarray:
    """preprocess: scipy.signal.lfilter of a 5th-order 48 Hz Butterworth high-pass."""
    from scipy import signal

    b, a = signal.butter(N=5, Wn=48, btype="high", fs=sr)
    return signal.lfilter(b, a, audio)


def applio_coarse(f0: np.ndarray) -> np.ndarray:
    """Applio's extract.FeatureInput.coarse_f0: every value (0 Hz too) mel-scaled, mapped and clipped to 1..255."""
    mel_min, mel_max = 1127 * np.log(1 + 50.0 / 700), 1127 * np.log(1 + 1100.0 / 700)
    f0_mel = 1127.0 * np.log(1.0 + np.asarray(f0, dtype=np.float64) / 700.0)
    return np.rint(np.clip((f0_mel - mel_min) * 254 / (mel_max - mel_min) + 1, 1, 255)).astype(int)


def applio_load(path, sample_rate: int) -> np.ndarray:
    """Applio's rvc.lib.utils.load_audio: soundfile, librosa.to_mono, librosa.resample(res_type="soxr_vhq")."""
    import librosa
    import soundfile as sf

    audio, rate = sf.read(path)
    if audio.ndim > 1:
        audio = librosa.to_mono(audio.T)
    if rate != sample_rate:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate, res_type="soxr_vhq")
    return audio.flatten()


def applio_automatic_starts(segment_length: int, sr: int) -> list[tuple[int, int]]:
    """Applio's "Automatic" cut of one slicer segment: 3.0 s pieces every 2.7 s while more than 3.3 s remain, then
    the rest; ``(start, end)`` in the segment."""
    pieces, i = [], 0
    while True:
        start = int(sr * (3.0 - 0.3) * i)
        i += 1
        if segment_length - start > (3.0 + 0.3) * sr:
            pieces.append((start, start + int(3.0 * sr)))
        else:
            pieces.append((start, segment_length))
            return pieces


def fork_resampled_wav(path) -> np.ndarray | None:
    """so-vits-svc-fork's preprocess_resample._preprocess_one, as int16 samples (``None``: the clip is skipped)."""
    import io

    import librosa
    import soundfile as sf

    audio, sr = librosa.load(path, sr=44100, mono=True)
    if len(audio) / sr < 0.3:
        return None
    audio /= max(audio.max(), -audio.min())
    audio, _ = librosa.effects.trim(audio, top_db=30, frame_length=int(0.1 * sr), hop_length=int(0.05 * sr))
    if len(audio) / sr < 0.3:
        return None
    buffer = io.BytesIO()
    sf.write(buffer, audio, samplerate=sr, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    return sf.read(buffer, dtype="int16")[0]


def fork_dio(wav: np.ndarray, hop: int = 512, sr: int = 44100) -> np.ndarray:
    """so-vits-svc-fork's compute_f0(method="dio"): quantile scaling, pyworld dio + stonemask, 0.1 Hz rounding,
    _resize_f0 onto len // hop frames."""
    import pyworld

    wav = wav.astype(np.float32)
    wav /= np.quantile(np.abs(wav), 0.999)
    f0, t = pyworld.dio(wav.astype(np.double), fs=sr, f0_ceil=1100, f0_floor=50, frame_period=1000 * hop / sr)
    f0 = pyworld.stonemask(wav.astype(np.double), f0, t, sr)
    for index, pitch in enumerate(f0):
        f0[index] = round(pitch, 1)
    target_len = wav.shape[0] // hop
    source = np.array(f0)
    source[source < 0.001] = np.nan
    target = np.interp(np.arange(0, len(source) * target_len, len(source)) / target_len, np.arange(0, len(source)),
                       source)
    return np.nan_to_num(target)


def fork_interpolate_f0(f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """so-vits-svc-fork's f0.interpolate_f0, its loop as written (filling in place as it goes)."""
    data = np.reshape(np.array(f0, dtype=np.float32), (f0.size, 1))
    vuv = np.zeros((data.size, 1), dtype=np.float32)
    vuv[data > 0.0] = 1.0
    ip = data
    n = data.size
    last = 0.0
    for i in range(n):
        if data[i] <= 0.0:
            j = i + 1
            for j in range(i + 1, n):  # noqa: B007 - j is read after the loop, as in the original
                if data[j] > 0.0:
                    break
            if j < n - 1:
                if last > 0.0:
                    step = (data[j] - data[i - 1]) / float(j - i)
                    for k in range(i, j):
                        ip[k] = data[i - 1] + step * (k - i + 1)
                else:
                    for k in range(i, j):
                        ip[k] = data[j]
            else:
                for k in range(i, n):
                    ip[k] = last
        else:
            ip[i] = data[i]
            last = data[i]
    return ip[:, 0], vuv[:, 0]


def torchaudio_resample(waveform: np.ndarray, orig: int, new: int) -> np.ndarray:
    """torchaudio.functional.resample's default (sinc_interp_hann, lowpass_filter_width 6, rolloff 0.99), with
    torch.conv1d as torchaudio applies it."""
    import math

    import torch

    gcd = math.gcd(orig, new)
    orig, new = orig // gcd, new // gcd
    base = min(orig, new) * 0.99
    width = math.ceil(6 * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float64)[:, None, None] / new + idx
    t = (t * base).clamp(-6, 6)
    window = torch.cos(t * math.pi / 6 / 2) ** 2
    t = t * math.pi
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t) * window * (base / orig)
    kernels = kernels.to(torch.float32)
    x = torch.from_numpy(np.asarray(waveform, np.float32))[None]
    x = torch.nn.functional.pad(x, (width, width + orig))
    out = torch.nn.functional.conv1d(x[:, None], kernels, stride=orig).transpose(1, 2).reshape(1, -1)
    return out[0, : int(math.ceil(new * len(waveform) / orig))].numpy()
