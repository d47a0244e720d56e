"""RMVPE from users' checkpoints: RVC's plain ``rmvpe.pt`` state dict, or so-vits-svc's and DDSP-SVC's
``{"model": state_dict}`` (whose unused ``unet.tf.*`` timbre-filter tensors are ignored), read through the
restricted unpickler; widths and depths from the tensor shapes.

Front end: 16 kHz mono, STFT n_fft = win 1024, hop 160, ``center=True`` (reflect pad 512), magnitude, HTK-scale
mel filters (128 bins, 30–8000 Hz, area-normalised), ``ln(clamp(x, 1e-5))``: ``len // 160 + 1`` frames, frame i
centred on sample ``160·i``, zero-padded to a multiple of 32 frames for the network. Decoder: the salience-weighted
mean of the cents of the peak bin ± 4 (bins outside the 360 count as zero), ``cents(bin) = 20·bin +
1997.3794084376191`` re 10 Hz, F0 = 10·2^(cents/1200), 0 where the peak salience is at most ``threshold``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from svcprep.audio.mel import slaney_mel_filters
from svcprep.errors import CheckpointError, ConfigError
from svcprep.extractors.checkpoint_io import load_untrusted_checkpoint
from svcprep.extractors.spec import CenteredFrames, ExtractorSpec
from svcprep.pitch.neural import HOP_LENGTH, SAMPLE_RATE, NeuralTracker, checkpoint_path, load_network
from svcprep.pitch.rmvpe_model import E2E, N_BINS, shapes_of

N_FFT, FMIN, FMAX, N_MELS = 1024, 30.0, 8000.0, 128
CENTS_OF_BIN_0, CENTS_PER_BIN = 1997.3794084376191, 20.0
IGNORED = ("unet.tf.",)  # so-vits-svc / DDSP-SVC build a timbre filter their forward never calls


def locate(model: str | Path | None) -> Path:
    if model is None:
        raise ConfigError("rmvpe needs its checkpoint: pass --model rmvpe=PATH (RVC's assets/rmvpe/rmvpe.pt, or "
                          "so-vits-svc's pretrain/rmvpe.pt); RMVPE weights are not on any package index", "model")
    return checkpoint_path("rmvpe", model)


def state_dict_of(path: Path) -> dict[str, Any]:
    import torch


    loaded = load_untrusted_checkpoint(path)
    state = loaded.get("model") if isinstance(loaded, dict) and isinstance(loaded.get("model"), dict) else loaded
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not an RMVPE checkpoint (expected a state dict of tensors)")
    state = {k: v for k, v in state.items() if not k.startswith(IGNORED)}
    if "unet.encoder.layers.0.conv.0.conv.0.weight" not in state or "fc.1.weight" not in state:
        if any(k.startswith(("feature_extractor.conv_layers", "encoder.layers.0.self_attn")) for k in state):
            raise CheckpointError(f"{path}: this is a HuBERT/ContentVec checkpoint, not RMVPE; pass it to an "
                                  "extractor (--model contentvec=...) and give --model rmvpe=rmvpe.pt")
        if "input_stack.0.weight" in state:
            raise CheckpointError(f"{path}: this is an FCPE checkpoint, not RMVPE; use --set pitch.method=fcpe")
        raise CheckpointError(f"{path}: not an RMVPE checkpoint (no unet.encoder / fc tensors)")
    return state


def read_config(path: Path) -> dict[str, Any]:
    state = state_dict_of(path)
    try:
        shapes = shapes_of(state)
    except (KeyError, IndexError) as exc:
        raise CheckpointError(f"{path}: an RMVPE checkpoint missing {exc}") from exc
    if tuple(state["fc.1.weight"].shape) != (N_BINS, 2 * shapes["gru_hidden"]) or shapes["levels"] < 1:
        raise CheckpointError(f"{path}: unexpected RMVPE shapes (fc.1.weight {tuple(state['fc.1.weight'].shape)})")
    return shapes


def spec(config: dict[str, Any]) -> ExtractorSpec:
    return ExtractorSpec("rmvpe", "rmvpe", SAMPLE_RATE, 1, CenteredFrames(HOP_LENGTH, N_FFT // 2 + 1))


def frame_times(num_frames: int) -> np.ndarray:
    """Frame i is centred on sample ``160·i`` (``center=True``)."""
    return NeuralTracker.frame_times_at(np.arange(num_frames))


def cents_to_f0(cents: np.ndarray) -> np.ndarray:
    return 10.0 * 2.0 ** (cents / 1200.0)


def local_average_cents(salience: np.ndarray, threshold: float) -> np.ndarray:
    """``(T, 360)`` → ``(T,)`` cents: weighted mean over the peak bin ± 4 (zero outside the bins); 0 where the
    peak salience is at most ``threshold``."""
    peak = np.argmax(salience, axis=1)
    padded = np.pad(salience, ((0, 0), (4, 4)))
    cents = np.pad(CENTS_PER_BIN * np.arange(salience.shape[1]) + CENTS_OF_BIN_0, (4, 4))
    index = peak[:, None] + np.arange(9)[None, :]
    weights = np.take_along_axis(padded, index, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weights * cents[index]).sum(axis=1) / weights.sum(axis=1)
    voiced = padded.max(axis=1) > threshold
    return np.where(voiced, mean, 0.0)


class RMVPE(NeuralTracker):
    window_frames = 6016  # ~60 s, a multiple of 32
    context_frames = 416  # ~4 s of GRU and U-Net context on each side

    def __init__(self, net, threshold: float, device, dtype) -> None:
        import torch


        super().__init__(threshold, device, dtype)
        self.net = net
        self.spec = spec({})
        self.filters = torch.from_numpy(slaney_mel_filters(SAMPLE_RATE, N_FFT, N_MELS, FMIN, FMAX, htk=True))
        self.window = torch.hann_window(N_FFT)

    def mel_padding(self, num_samples: int) -> tuple[int, int, str]:
        return N_FFT // 2, N_FFT // 2, "reflect"  # center=True

    def mel_of_piece(self, piece):
        import torch

        spec = torch.stft(piece, N_FFT, hop_length=HOP_LENGTH, win_length=N_FFT, window=self.window, center=False,
                          return_complex=True)
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2))
        return torch.log(torch.clamp(self.filters @ magnitude, min=1e-5)).T

    def network(self, mels, lengths: list[int], context: list):
        import torch

        multiple = 2 ** self.net.levels
        padded = [-(-n // multiple) * multiple for n in lengths]
        total = max(padded)
        if mels.shape[1] < total:
            mels = torch.nn.functional.pad(mels, (0, 0, 0, total - mels.shape[1]))
        return self.net(mels.to(self.dtype), padded)

    def decode(self, salience) -> np.ndarray:
        cents = local_average_cents(salience.numpy(), self.threshold)
        f0 = cents_to_f0(cents)
        return np.where(cents > 0, f0, 0.0).astype(np.float32)


def build(shapes: dict[str, int]):
    return E2E(shapes["levels"], shapes["inter_depth"], shapes["n_blocks"], shapes["width"], shapes["n_gru"],
               shapes["gru_hidden"])


def load(resolved) -> RMVPE:
    net, device, dtype = load_network(build(resolved.config), state_dict_of(resolved.path), resolved)
    return RMVPE(net, resolved.threshold, device, dtype)
