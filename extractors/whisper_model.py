"""Whisper encoder features (the model side of ``whisper.py``): any length, log-mel floor per clip, exact batching.

``window="full"`` (default, as Amphion): every 30 s window is zero-padded to 3000 mel frames, exactly as
transformers' feature extractor does, and the encoder runs at its native 1500 positions; the frames that
cover real audio are kept. ``window="trim"``: each window is as long as its audio (positional embeddings
cut to it, padded frames masked out of attention): faster on short clips, and not identical to ``full``,
where attention also sees the padding. Audio longer than 30 s runs as consecutive 30 s windows, concatenated:
nothing is truncated. The log-mel floor ``max - 8`` is taken per window of each clip, never across a batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from svcprep.errors import CheckpointError
from svcprep.extractors.base import BatchExtractor, Chunk, resolve_device, resolve_dtype
from svcprep.extractors.hf_weights import read_tensors
from svcprep.extractors.spec import ExtractorSpec


class WhisperLogMel(nn.Module):
    """Whisper's log-mel: |STFT|² (hann, centred, reflect), mel filters, log10, floor ``max - 8`` per row."""

    def __init__(self, mel_filters: torch.Tensor, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("filters", mel_filters.float(), persistent=False)  # (n_freq, n_mels)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` → ``(B, n_mels, N // hop)``."""
        stft = torch.stft(wav.float(), self.n_fft, self.hop_length, window=self.window, return_complex=True)
        power = stft[..., :-1].abs() ** 2
        mel = self.filters.T @ power
        log_spec = torch.clamp(mel, min=1e-10).log10()
        log_spec = torch.maximum(log_spec, log_spec.amax(dim=(1, 2), keepdim=True) - 8.0)
        return (log_spec + 4.0) / 4.0


class WhisperExtractor(BatchExtractor):
    def __init__(self, spec: ExtractorSpec, encoder: nn.Module, log_mel: WhisperLogMel, *, window_samples: int,
                 layer: int | str, window: str, device: torch.device, dtype: torch.dtype) -> None:
        self.spec, self.device, self.dtype = spec, device, dtype
        self.encoder = encoder.to(device=device, dtype=dtype).eval()
        self.log_mel = log_mel.to(device)
        self.window_samples, self.layer, self.window = window_samples, layer, window
        self.max_batch_samples = window_samples * 8

    def plan(self, lengths: list[int]) -> list[Chunk]:
        """Consecutive windows of exactly 30 s (the last one shorter); every frame of each is kept."""
        chunks = []
        for clip, n in enumerate(lengths):
            for start in range(0, n, self.window_samples):
                stop = min(n, start + self.window_samples)
                frames = self.spec.num_frames(stop - start)
                if frames > 0:
                    chunks.append(Chunk(clip, start, stop, 0, frames))
        return chunks

    def _mels(self, batch: torch.Tensor, lengths: list[int]) -> tuple[torch.Tensor, list[int]]:
        hop = self.log_mel.hop_length
        if self.window == "full":
            padded = torch.zeros(batch.shape[0], self.window_samples, device=batch.device)
            for i, n in enumerate(lengths):
                padded[i, :n] = batch[i, :n]
            return self.log_mel(padded), [n // hop for n in lengths]
        # trim: each row's STFT on its own samples (reflect padding at its own end), zeros past its frames,
        # which is what the unbatched conv's zero padding sees.
        num_mel = [n // hop for n in lengths]
        mels = torch.zeros(batch.shape[0], self.log_mel.filters.shape[1], max(num_mel), device=batch.device)
        shortest = self.log_mel.n_fft // 2 + 1  # reflect padding needs more samples than it pads
        for i, n in enumerate(lengths):
            row = nn.functional.pad(batch[i : i + 1, :n], (0, max(0, shortest - n)))
            mels[i, :, : num_mel[i]] = self.log_mel(row)[0, :, : num_mel[i]]
        return mels, num_mel

    def forward_batch(self, batch: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
        enc = self.encoder
        mels, num_mel = self._mels(batch, lengths)
        frames = [self.spec.num_frames(n) for n in lengths]
        x = nn.functional.gelu(enc.conv1(mels.to(self.dtype)))
        mask = None
        if self.window == "trim":
            steps = x.shape[-1]
            valid_mel = torch.arange(steps, device=x.device)[None, :] < torch.tensor(num_mel, device=x.device)[:, None]
            x = x * valid_mel[:, None, :].to(x.dtype)
        x = nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)
        x = x + enc.embed_positions.weight[: x.shape[1]].to(x.dtype)
        if self.window == "trim":
            from transformers.masking_utils import create_bidirectional_mask

            valid = torch.arange(x.shape[1], device=x.device)[None, :] < torch.tensor(frames, device=x.device)[:, None]
            mask = create_bidirectional_mask(config=enc.config, inputs_embeds=x, attention_mask=valid)
        last = len(enc.layers) if self.layer == "final" else self.layer
        for layer in enc.layers[:last]:
            x = layer(x, mask)
            x = x[0] if isinstance(x, tuple) else x
        if self.layer == "final":
            x = enc.layer_norm(x)
        return [x[i, : frames[i]] for i in range(len(lengths))]


def load_encoder(path: Path):
    """The encoder of a Whisper checkpoint dir, without building or loading the decoder."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder


    try:
        config = WhisperConfig.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"whisper: {path} has no usable Whisper config.json: {exc}") from exc
    tensors = read_tensors(path, keep=lambda k: k.startswith(("model.encoder.", "encoder.")))
    state = {k.split("encoder.", 1)[1]: v for k, v in tensors.items()}
    with torch.device("meta"):  # no random init of weights about to be replaced (seconds for whisper-medium)
        encoder = WhisperEncoder(config)
    missing, unexpected = encoder.load_state_dict(state, strict=False, assign=True)
    if any(t.is_meta for t in [*encoder.parameters(), *encoder.buffers()]):
        # Something was not stored (e.g. the positional table): the module's own initialisation fills it.
        encoder = WhisperEncoder(config)
        missing, unexpected = encoder.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "embed_positions.weight" or "embed_positions.weight" not in state]
    if missing or unexpected:
        raise CheckpointError(f"whisper: {path}: encoder weights missing {missing[:5]}, unexpected {unexpected[:5]}")
    return encoder.eval(), config


def load(spec: ExtractorSpec, path: Path, options: dict[str, Any]) -> WhisperExtractor:
    from transformers import WhisperFeatureExtractor

    encoder, config = load_encoder(path)
    features = WhisperFeatureExtractor.from_pretrained(str(path))
    log_mel = WhisperLogMel(torch.from_numpy(features.mel_filters), features.n_fft, features.hop_length)
    strides = (encoder.conv1.stride[0], encoder.conv2.stride[0])
    if strides != spec.frames.conv_strides or features.hop_length != spec.frames.mel_hop_length:
        raise CheckpointError(f"whisper: {path}: conv strides {strides} / mel hop {features.hop_length} differ "
                              f"from the frame rule {spec.frames.describe()}")
    extractor = WhisperExtractor(
        spec, encoder, log_mel, window_samples=config.max_source_positions * spec.hop_length,
        layer=options["layer"], window=options["window"], device=resolve_device(options["device"]),
        dtype=resolve_dtype(options["dtype"]),
    )
    if options["verify"]:
        extractor.verify()
    return extractor
