"""FCPE with its real weights: torchfcpe 0.0.4's bundled ``fcpe_c_v001.pt`` (found in the installed package
without importing it: its import needs torchaudio) or ``--model fcpe=PATH``, read through the restricted unpickler.

Front end: 16 kHz mono, a reflect pad of ``(1024 - 160) // 2`` each side, STFT n_fft = win 1024, hop 160,
``center=False``, magnitude ``sqrt(re² + im² + 1e-9)``, Slaney mel filters (128 bins, 0–8000 Hz),
``ln(clamp(x, 1e-5))``: ``len // 160`` frames, then the last frame repeated once (``len // 160 + 1`` frames, as
torchfcpe returns). The network's F0 for frame i is that at ``160·i`` (measured on a known-F0 line: 3 cents
median at ``i·10 ms``, 12 at ``(i + ½)·10 ms``, where the mel window itself is centred). Decoders over the
360-bin cent table the checkpoint holds:
``local_argmax`` (the salience-weighted mean of the peak bin ± 4, indices clamped to the table) or ``argmax``
(the weighted mean over every bin); F0 = 10·2^(cents/1200), 0 where the peak salience is at most ``threshold``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.audio.mel import slaney_mel_filters
from svcprep.errors import CheckpointError, ConfigError
from svcprep.extractors.checkpoint_io import load_untrusted_checkpoint
from svcprep.extractors.spec import CenteredFrames, ExtractorSpec
from svcprep.pitch.fcpe_model import CFNaiveMelPE
from svcprep.pitch.neural import HOP_LENGTH, SAMPLE_RATE, NeuralTracker, checkpoint_path, load_network, runs_whole

BUNDLED = ("assets", "fcpe_c_v001.pt")
DECODERS = ("local_argmax", "argmax")
INSTALL_HINT = ("pip install --no-deps torchfcpe==0.0.4 (its checkpoint is used, its code is not), or pass "
                "--model fcpe=PATH")


def bundled_checkpoint() -> Path | None:
    """The checkpoint inside an installed torchfcpe, located without importing the package."""
    spec = importlib.util.find_spec("torchfcpe")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root).joinpath(*BUNDLED)
        if path.is_file():
            return path
    return None


def locate(model: str | Path | None) -> Path:
    if model is not None:
        return checkpoint_path("fcpe", model)
    path = bundled_checkpoint()
    if path is None:
        raise ConfigError(f"fcpe: no checkpoint found: {INSTALL_HINT}", "model")
    return path


def _checkpoint(path: Path) -> dict[str, Any]:
    import torch


    loaded = load_untrusted_checkpoint(path)
    if not (isinstance(loaded, dict) and isinstance(loaded.get("model"), dict)
            and isinstance(loaded.get("config_dict"), dict)):
        if isinstance(loaded, dict) and any(str(k).startswith("unet.") for k in (loaded.get("model") or loaded)):
            raise CheckpointError(f"{path}: this is an RMVPE checkpoint, not FCPE; use --set pitch.method=rmvpe")
        raise CheckpointError(f"{path}: not a torchfcpe checkpoint (expected 'model' and 'config_dict')")
    state = loaded["model"]
    if not all(isinstance(v, torch.Tensor) for v in state.values()) or "input_stack.0.weight" not in state:
        raise CheckpointError(f"{path}: not an FCPE (CFNaiveMelPE) state dict")
    return loaded


def read_config(path: Path) -> dict[str, Any]:
    checkpoint = _checkpoint(path)
    config, state = checkpoint["config_dict"], checkpoint["model"]
    model, mel = config.get("model") or {}, config.get("mel") or {}
    if model.get("type") != "CFNaiveMelPE" or not model.get("conv_only"):
        raise CheckpointError(f"{path}: model type {model.get('type')!r} (conv_only={model.get('conv_only')}); "
                              "svcprep runs the conv-only CFNaiveMelPE")
    expected_mel = {"sr": SAMPLE_RATE, "hop_size": HOP_LENGTH, "n_fft": 1024, "win_size": 1024}
    if any(mel.get(k) != v for k, v in expected_mel.items()):
        raise CheckpointError(f"{path}: mel settings {mel} differ from FCPE's 16 kHz / hop 160 / 1024")
    layers = len({k.split(".")[2] for k in state if k.startswith("net.encoder_layers.")})
    return {"n_mels": int(state["input_stack.0.weight"].shape[1]), "dim": int(state["input_stack.0.weight"].shape[0]),
            "layers": layers, "bins": int(state["cent_table"].shape[0]), "fmin": float(mel.get("fmin", 0)),
            "fmax": float(mel.get("fmax", 8000))}


def spec(config: dict[str, Any]) -> ExtractorSpec:
    return ExtractorSpec("fcpe", "fcpe", SAMPLE_RATE, 1, CenteredFrames(HOP_LENGTH, 1))


def frame_times(num_frames: int) -> np.ndarray:
    """Frame i gives F0 at sample ``160·i`` (what the network was trained to)."""
    return NeuralTracker.frame_times_at(np.arange(num_frames))


class FCPE(NeuralTracker):
    window_frames = 6000
    context_frames = 128  # more than the network's receptive field (±92 frames): windows are exact

    def __init__(self, net, config: dict[str, Any], threshold: float, device, dtype, decoder: str = "local_argmax"):
        import torch


        super().__init__(threshold, device, dtype)
        if decoder not in DECODERS:
            raise ConfigError(f"fcpe decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        self.net, self.decoder = net, decoder
        self.spec = spec(config)
        self.filters = torch.from_numpy(slaney_mel_filters(SAMPLE_RATE, 1024, config["n_mels"], config["fmin"],
                                                           config["fmax"]))
        self.window = torch.hann_window(1024)

    def mel_padding(self, num_samples: int) -> tuple[int, int, str]:
        left = (1024 - HOP_LENGTH) // 2
        right = max((1024 - HOP_LENGTH + 1) // 2, 1024 - num_samples - left)
        return left, right, "reflect" if right < num_samples else "constant"

    def mel_of_piece(self, piece):
        import torch

        spec = torch.stft(piece, 1024, hop_length=HOP_LENGTH, win_length=1024, window=self.window, center=False,
                          return_complex=True)
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
        return torch.log(torch.clamp(self.filters @ magnitude, min=1e-5)).T

    def clip_context(self, mel):
        if runs_whole(mel.shape[0], self.window_frames, self.context_frames):
            return None  # runs whole: the network takes the statistics from the clip's own frames
        return self.net.group_statistics(mel.to(self.device))

    def streamed_clip_context(self, frames, total: int):
        return self.net.group_statistics_of(frames, total, self.device)

    def network(self, mels, lengths: list[int], context: list):
        return self.net(mels.to(self.dtype), lengths, context)

    def decode(self, salience) -> np.ndarray:
        import torch

        table = self.net.cent_table.float().cpu()
        confident, peak = torch.max(salience, dim=-1, keepdim=True)
        if self.decoder == "local_argmax":
            index = (peak + torch.arange(-4, 5)[None, :]).clamp(0, salience.shape[-1] - 1)
            weights = torch.gather(salience, -1, index)
            cents = (table[index] * weights).sum(-1) / weights.sum(-1)
        else:
            cents = (table[None, :] * salience).sum(-1) / salience.sum(-1)
        f0 = 10.0 * 2 ** (cents / 1200.0)
        return torch.where(confident[:, 0] > self.threshold, f0, torch.zeros_like(f0)).numpy().astype(np.float32)


def load(resolved, decoder: str = "local_argmax") -> FCPE:
    config = resolved.config
    state = dict(_checkpoint(resolved.path)["model"])
    # torchfcpe saved the weight norm of the output layer as weight_g / weight_v (torch's parametrization names).
    for old, new in (("output_proj.weight_g", "output_proj.parametrizations.weight.original0"),
                     ("output_proj.weight_v", "output_proj.parametrizations.weight.original1")):
        if old in state:
            state[new] = state.pop(old)
    net, device, dtype = load_network(CFNaiveMelPE(config["n_mels"], config["dim"], config["layers"], config["bins"]),
                                      state, resolved)
    return FCPE(net, config, resolved.threshold, device, dtype, decoder)
