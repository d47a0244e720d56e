"""Amphion's preprocessing steps, written from REFERENCE.md §2 for parity tests and benchmarks only: its
repeat-then-average alignment, its mel, audio loading, pitch calls, length fix, energy and pitch statistics."""

import numpy as np
import torch


def amphion_area_align(content: np.ndarray, target_len: int, source_hop: int, target_hop: int) -> np.ndarray:
    """``source_hop``/``target_hop``: the two periods in one unit, divided by their gcd."""
    feat_dim = content.shape[1]
    source_len = min(target_len * target_hop // source_hop + 1, len(content))
    const = source_len * source_hop // target_hop * target_hop
    up_sampled = np.repeat(content, source_hop, axis=0)
    down_sampled = np.average(up_sampled[:const].reshape(-1, target_hop, feat_dim), axis=1)
    err = abs(target_len - len(down_sampled))
    if len(down_sampled) < target_len:
        end = np.repeat(down_sampled[-1][None, :], err, axis=0)
        down_sampled = np.concatenate([down_sampled, end], axis=0)
    return down_sampled[:target_len]


def amphion_mel(y, n_fft, n_mels, sample_rate, hop, win, fmin, fmax):
    """Amphion's utils/mel.py mel_spectrogram, written from REFERENCE.md §2 (filters from transformers)."""
    from transformers.audio_utils import mel_filter_bank

    basis = torch.from_numpy(mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=n_mels,
                                             min_frequency=fmin, max_frequency=fmax, sampling_rate=sample_rate,
                                             norm="slaney", mel_scale="slaney").T).float()
    y = torch.nn.functional.pad(y[None], ((n_fft - hop) // 2, (n_fft - hop) // 2), mode="reflect")[0]
    spec = torch.stft(y, n_fft, hop_length=hop, win_length=win, window=torch.hann_window(win), center=False,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
    return torch.log(torch.clamp(basis @ spec, min=1e-5))


def amphion_load(path, sample_rate):
    """``librosa.load(path, sr=sample_rate, mono=True)``, then Amphion's peak rescale of loud float audio."""
    import librosa

    audio, _ = librosa.load(str(path), sr=sample_rate, mono=True)
    peak = max(np.amax(audio), -np.amin(audio))
    scale = (2**31) + 1 if peak > (2**15) else ((2**15) + 1 if peak > 1.01 else 1.0)
    return (torch.FloatTensor(audio.astype(np.float32)) / scale).numpy()


def amphion_align_length(feature, target_len):
    """Amphion's ``align_length`` for 1-D data: zero-pad the end or cut."""
    if target_len > len(feature):
        return np.pad(feature, (0, target_len - len(feature)), constant_values=0.0)
    return feature[:target_len]


def amphion_pitch(audio, sample_rate, hop_size, f0_min, f0_max, extractor):
    """Amphion's ``get_f0`` for ``parselmouth`` and ``dio``, and its harvest function (not reached by get_f0)."""
    if extractor == "parselmouth":
        import parselmouth

        time_step = hop_size / sample_rate * 1000
        return parselmouth.Sound(audio, sample_rate).to_pitch_ac(
            time_step=time_step / 1000, voicing_threshold=0.6, pitch_floor=f0_min, pitch_ceiling=f0_max,
        ).selected_array["frequency"]
    import pyworld as pw

    if extractor == "dio":
        f0, t = pw.dio(audio.astype("double"), sample_rate, f0_floor=f0_min, f0_ceil=f0_max, channels_in_octave=2,
                       frame_period=(1000 * hop_size / sample_rate))
        return pw.stonemask(audio.astype("double"), f0, t, sample_rate)
    f0, _ = pw.harvest(audio.astype("double"), sample_rate, f0_floor=f0_min, f0_ceil=f0_max,
                       frame_period=(1000 * hop_size / sample_rate))
    return f0.astype("float")


def amphion_energy(mel):
    """``energy_extract_mode: from_mel`` on an ``(n_mels, T)`` log-mel tensor."""
    return (torch.from_numpy(mel).exp() ** 2).sum(0).sqrt().cpu().numpy()


def amphion_pitch_statistics(pitch_by_singer):
    """``cal_pitch_statistics_svc``: ``{singer: [pitch arrays]}`` → its statistics dict (lists, as it builds)."""
    result = {}
    for singer, arrays in pitch_by_singer.items():
        voiced, total = [], []
        for total_pitch in arrays:
            voiced.extend(total_pitch[total_pitch != 0].tolist())
            total.extend(total_pitch.tolist())
        result[singer] = {
            name: {"mean": np.mean(values), "std": np.std(values), "median": np.median(values),
                   "min": np.min(values), "max": np.max(values)}
            for name, values in (("voiced_positions", voiced), ("total_positions", total))
        }
    return result
