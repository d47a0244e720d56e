"""so-vits-svc-fork's rules beyond the audio: its F0 (DIO as it runs it, its interpolation), its content length
rule, its file-list split and its config (the ``so-vits-svc-4.0v1`` template with the speakers filled in)."""

from __future__ import annotations

from typing import Any

import numpy as np

F0_MIN, F0_MAX = 50.0, 1100.0
TRAIN_LIST, VAL_LIST, TEST_LIST, CONFIG = ("filelists/44k/train.txt", "filelists/44k/val.txt",
                                           "filelists/44k/test.txt", "configs/44k/config.json")
MIN_FILES_PER_SPEAKER = 5  # 2 for validation, 2 for test, the rest to train


def fork_f0(wav: np.ndarray, sample_rate: int, hop_length: int) -> np.ndarray:
    """``compute_f0(method="dio")``: the clip scaled by its 0.999 quantile of |x|, WORLD's DIO (50–1100 Hz, one
    frame per hop) refined by StoneMask, each value rounded to 0.1 Hz, resampled onto ``len // hop`` frames by
    interpolating the voiced values (unvoiced: 0)."""
    import pyworld

    x = np.asarray(wav, np.float32)
    x = (x / np.quantile(np.abs(x), 0.999)).astype(np.float64)
    raw, times = pyworld.dio(x, fs=sample_rate, f0_ceil=F0_MAX, f0_floor=F0_MIN,
                             frame_period=1000 * hop_length / sample_rate)
    f0 = pyworld.stonemask(x, raw, times, sample_rate)
    f0 = np.array([round(float(v), 1) for v in f0])
    return _resize(f0, len(x) // hop_length)


def _resize(f0: np.ndarray, length: int) -> np.ndarray:
    source = np.array(f0, dtype=np.float64)
    source[source < 0.001] = np.nan
    positions = np.arange(0, len(source) * length, len(source)) / length
    return np.nan_to_num(np.interp(positions, np.arange(len(source)), source))


def fork_fill(f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``interpolate_f0``: ``(f0 filled, uv)`` float32. An unvoiced run is filled linearly towards the next voiced
    frame, or with the first voiced value at the start; a run with no voiced frame after it, or whose next voiced
    frame is the clip's last, holds the last voiced value (0 before any)."""
    data = np.asarray(f0, dtype=np.float32).reshape(-1).copy()
    uv = (data > 0).astype(np.float32)
    count = len(data)
    last = 0.0
    for i in range(count):
        if data[i] <= 0:
            j = next((k for k in range(i + 1, count) if data[k] > 0), count - 1)
            if j < count - 1:
                if last > 0:
                    step = (data[j] - data[i - 1]) / float(j - i)
                    data[i:j] = data[i - 1] + step * np.arange(1, j - i + 1)
                else:
                    data[i:j] = data[j]
            else:
                data[i:] = last
        else:
            last = data[i]
    return data, uv


def repeat_expand(content: np.ndarray, length: int) -> np.ndarray:
    """``repeat_expand_2d``: ``(D, T)`` cut to ``length`` columns, or stretched by nearest-neighbour (column
    ``floor(i · T / length)``)."""
    if length < content.shape[1]:
        return content[:, :length]
    index = np.floor(np.arange(length) * (content.shape[1] / length)).astype(np.int64)
    return content[:, np.minimum(index, content.shape[1] - 1)]


def split(by_speaker: dict[str, list[str]], seed: int) -> tuple[list[str], list[str], list[str]]:
    """``preprocess_config``: per speaker (sorted), its files (sorted) shuffled by one ``RandomState(seed)``; the
    first two validate, the last two test, the rest train."""
    random = np.random.RandomState(seed)
    train, val, test = [], [], []
    for speaker in sorted(by_speaker):
        paths = sorted(by_speaker[speaker])
        random.shuffle(paths)
        train += paths[2:-2]
        val += paths[:2]
        test += paths[-2:]
    return train, val, test


def training_config(speakers: dict[str, int], train_list: str, val_list: str) -> dict[str, Any]:
    """The fork's ``so-vits-svc-4.0v1`` config template with ``spk`` and the file lists filled in."""
    return {
        "train": {"log_interval": 100, "eval_interval": 200, "seed": 1234, "epochs": 10000, "learning_rate": 0.0001,
                  "betas": [0.8, 0.99], "eps": 1e-09, "batch_size": 16, "fp16_run": False, "bf16_run": False,
                  "lr_decay": 0.999875, "segment_size": 10240, "init_lr_ratio": 1, "warmup_epochs": 0,
                  "c_mel": 45, "c_kl": 1.0, "use_sr": True, "max_speclen": 512, "port": "8001",
                  "keep_ckpts": 3, "num_workers": 4, "log_version": 0, "ckpt_name_by_step": False,
                  "accumulate_grad_batches": 1},
        "data": {"training_files": train_list, "validation_files": val_list, "max_wav_value": 32768.0,
                 "sampling_rate": 44100, "filter_length": 2048, "hop_length": 512, "win_length": 2048,
                 "n_mel_channels": 80, "mel_fmin": 0.0, "mel_fmax": 22050, "contentvec_final_proj": False},
        "model": {"inter_channels": 192, "hidden_channels": 192, "filter_channels": 768, "n_heads": 2,
                  "n_layers": 6, "kernel_size": 3, "p_dropout": 0.1, "resblock": "1",
                  "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5]] * 3,
                  "upsample_rates": [8, 8, 2, 2, 2], "upsample_initial_channel": 512,
                  "upsample_kernel_sizes": [16, 16, 4, 4, 4], "n_layers_q": 3, "use_spectral_norm": False,
                  "gin_channels": 256, "ssl_dim": 768, "n_speakers": 200, "type_": "hifi-gan", "pretrained": {
                      "D_0.pth": "https://huggingface.co/datasets/ms903/sovits4.0-768vec-layer12/resolve/main/"
                                 "sovits_768l12_pre_large_320k/clean_D_320000.pth",
                      "G_0.pth": "https://huggingface.co/datasets/ms903/sovits4.0-768vec-layer12/resolve/main/"
                                 "sovits_768l12_pre_large_320k/clean_G_320000.pth"}},
        "spk": speakers,
    }
