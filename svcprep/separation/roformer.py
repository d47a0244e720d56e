"""BS-RoFormer and Mel-Band RoFormer (Lu et al. 2023; Wang et al. 2023) as the published checkpoints lay out their
weights: every state-dict key and shape of the Music-Source-Separation-Training models, so that a user's ``.ckpt``
loads strictly. Plain torch: rotary embeddings, band split and mask estimation are written here.

The network reads a batch of stereo (or mono) chunks ``(batch, channels, samples)`` and returns the masked STFT of
each stem resynthesised: ``(batch, stems, channels, samples)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from svcprep.audio.mel import hz_to_mel, mel_to_hz
from svcprep.separation.msst_config import RoformerShape


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class Rotary(nn.Module):
    """Rotary position embedding over the sequence axis; pairs of adjacent features rotate together. ``freqs``
    is part of the checkpoint (one copy under every attention block that uses it)."""

    def __init__(self, dim_head: int, theta: float = 10000.0) -> None:
        super().__init__()
        freqs = 1.0 / (theta ** (torch.arange(0, dim_head, 2)[: dim_head // 2].float() / dim_head))
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(..., seq, dim_head)``; angles in float32 whatever the activations' dtype."""
        positions = torch.arange(x.shape[-2], device=x.device, dtype=x.dtype).float()
        angles = (positions[:, None] * self.freqs.float()[None, :]).repeat_interleave(2, dim=-1)
        pairs = x.unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return (x * angles.cos() + rotated * angles.sin()).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, rotary: Rotary) -> None:
        super().__init__()
        self.heads = heads
        self.rotary_embed = rotary
        self.norm = RMSNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        batch, length, _ = x.shape
        q, k, v = self.to_qkv(x).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k = self.rotary_embed(q), self.rotary_embed(k)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out * self.to_gates(x).transpose(1, 2).unsqueeze(-1).sigmoid()
        return self.to_out(out.transpose(1, 2).reshape(batch, length, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(RMSNorm(dim), nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(dim * mult, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, rotary: Rotary, norm_output: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, heads, dim_head, rotary), FeedForward(dim)]) for _ in range(depth))
        self.norm = RMSNorm(dim) if norm_output else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attention, feed_forward in self.layers:
            x = attention(x) + x
            x = feed_forward(x) + x
        return self.norm(x)


class BandSplit(nn.Module):
    def __init__(self, dim: int, band_widths: tuple[int, ...]) -> None:
        super().__init__()
        self.band_widths = band_widths
        self.to_features = nn.ModuleList(nn.Sequential(RMSNorm(width), nn.Linear(width, dim)) for width in band_widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bands = x.split(self.band_widths, dim=-1)
        return torch.stack([net(band) for band, net in zip(bands, self.to_features, strict=True)], dim=-2)


def _mlp(dim_in: int, dim_out: int, dim_hidden: int, num_linear: int) -> nn.Sequential:
    dims = (dim_in, *([dim_hidden] * (num_linear - 1)), dim_out)
    layers: list[nn.Module] = []
    for index, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if index < len(dims) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class MaskEstimator(nn.Module):
    """One stem's mask: an MLP per band back to that band's (complex, channel, bin) values, then a GLU."""

    def __init__(self, dim: int, band_widths: tuple[int, ...], num_linear: int, expansion: int = 4) -> None:
        super().__init__()
        self.to_freqs = nn.ModuleList(
            nn.Sequential(_mlp(dim, 2 * width, dim * expansion, num_linear), nn.GLU(dim=-1)) for width in band_widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([net(band) for band, net in zip(x.unbind(dim=-2), self.to_freqs, strict=True)], dim=-1)


class Roformer(nn.Module):
    """What both kinds share: the STFT, the axial (time, then frequency) transformers and the masked resynthesis.
    A subclass says how bins group into bands and how band masks come back to bins."""

    final_norm_layer = True  # BS: one norm after the stack; Mel: a norm at the end of every transformer
    mask_linear_extra = 0  # Mel's mask MLPs have one more linear layer than mask_estimator_depth says

    def __init__(self, shape: RoformerShape, band_widths: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape
        time_rotary, freq_rotary = Rotary(shape.dim_head), Rotary(shape.dim_head)
        norm_each = not self.final_norm_layer
        self.layers = nn.ModuleList(
            nn.ModuleList([
                Transformer(shape.dim, shape.time_transformer_depth, shape.heads, shape.dim_head, time_rotary,
                            norm_each),
                Transformer(shape.dim, shape.freq_transformer_depth, shape.heads, shape.dim_head, freq_rotary,
                            norm_each),
            ]) for _ in range(shape.depth))
        if self.final_norm_layer:
            self.final_norm = RMSNorm(shape.dim)
        widths = tuple(2 * width * shape.channels for width in band_widths)
        self.band_split = BandSplit(shape.dim, widths)
        self.mask_estimators = nn.ModuleList(
            MaskEstimator(shape.dim, widths, shape.mask_estimator_depth + self.mask_linear_extra,
                          shape.mlp_expansion_factor) for _ in range(shape.num_stems))
        self.register_buffer("window", torch.hann_window(shape.stft_win_length), persistent=False)

    def _stft_kwargs(self) -> dict:
        s = self.shape
        return {"n_fft": s.stft_n_fft, "hop_length": s.stft_hop_length, "win_length": s.stft_win_length,
                "normalized": s.stft_normalized, "window": self.window}

    def gather_bands(self, spec: torch.Tensor) -> torch.Tensor:
        """``(batch, bins·channels, frames, 2)`` → the band split's input ``(batch, frames, features)``."""
        raise NotImplementedError

    def masks_to_bins(self, masks: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        """``(batch, stems, band features, frames)`` complex masks → per-bin masks ``(batch, stems, bins·ch,
        frames)``."""
        raise NotImplementedError

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        batch, channels, num_samples = audio.shape
        if channels != self.shape.channels:
            raise ValueError(f"the model reads {self.shape.channels} channel(s), got {channels}")
        spec = torch.stft(audio.reshape(batch * channels, num_samples).float(), return_complex=True,
                          **self._stft_kwargs())
        spec = torch.view_as_real(spec).reshape(batch, channels, *spec.shape[1:], 2)
        spec = spec.permute(0, 2, 1, 3, 4).reshape(batch, -1, spec.shape[3], 2)  # (b, bins·ch, frames, 2)
        x = self.band_split(self.gather_bands(spec))
        for time_transformer, freq_transformer in self.layers:
            b, t, f, d = x.shape
            x = time_transformer(x.transpose(1, 2).reshape(b * f, t, d)).reshape(b, f, t, d).transpose(1, 2)
            x = freq_transformer(x.reshape(b * t, f, d)).reshape(b, t, f, d)
        if self.final_norm_layer:
            x = self.final_norm(x)
        masks = torch.stack([estimator(x) for estimator in self.mask_estimators], dim=1)  # (b, n, t, feat)
        masks = torch.view_as_complex(masks.float().unflatten(-1, (-1, 2)).contiguous()).transpose(2, 3)
        complex_spec = torch.view_as_complex(spec.float().contiguous()).unsqueeze(1)  # (b, 1, bins·ch, t)
        masked = complex_spec * self.masks_to_bins(masks, complex_spec)
        stems = masked.shape[1]
        masked = masked.unflatten(2, (-1, channels)).permute(0, 1, 3, 2, 4).reshape(batch * stems * channels,
                                                                                    -1, masked.shape[-1])
        if self.shape.zero_dc:
            masked = masked.index_fill(1, torch.tensor(0, device=masked.device), 0.0)
        out = torch.istft(masked, length=self.output_length(num_samples), **self._stft_kwargs())
        return out.reshape(batch, stems, channels, -1)

    def output_length(self, num_samples: int) -> int | None:
        return num_samples


class BSRoformer(Roformer):
    """Fixed bands of adjacent bins (``freqs_per_bands``)."""

    def __init__(self, shape: RoformerShape, freqs_per_bands: tuple[int, ...]) -> None:
        if sum(freqs_per_bands) != shape.num_bins or len(freqs_per_bands) < 2:
            raise ValueError(f"freqs_per_bands add up to {sum(freqs_per_bands)} bins; an n_fft of "
                             f"{shape.stft_n_fft} has {shape.num_bins}")
        super().__init__(shape, tuple(freqs_per_bands))

    def gather_bands(self, spec: torch.Tensor) -> torch.Tensor:
        return spec.transpose(1, 2).flatten(2)

    def masks_to_bins(self, masks: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        return masks


def mel_band_membership(sample_rate: int, n_fft: int, num_bands: int) -> np.ndarray:
    """``(num_bands, 1 + n_fft // 2)`` booleans: the bins each band covers, where a Slaney-scale triangular mel
    filter (0 Hz to Nyquist, as librosa's ``filters.mel`` places them) is positive; the first bin joins the first
    band and the last bin the last band, so that every bin belongs to some band."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), num_bands + 2))
    widths = np.diff(mel_points)
    ramps = np.subtract.outer(mel_points, fft_freqs)
    weights = np.maximum(0, np.minimum(-ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    member = weights.astype(np.float32) > 0
    member[0, 0] = member[-1, -1] = True
    if not member.any(axis=0).all():
        raise ValueError(f"{num_bands} mel bands leave some of the {n_fft // 2 + 1} bins uncovered")
    return member


class MelBandRoformer(Roformer):
    """Overlapping bands from a binarised mel filter bank; a bin's mask is the mean over the bands covering it."""

    final_norm_layer = False
    mask_linear_extra = 1

    def __init__(self, shape: RoformerShape, num_bands: int, sample_rate: int) -> None:
        member = torch.from_numpy(mel_band_membership(sample_rate, shape.stft_n_fft, num_bands))
        bins = torch.arange(shape.num_bins).expand(num_bands, -1)[member]  # band by band, ascending bins
        channels = shape.channels
        indices = (bins[:, None] * channels + torch.arange(channels)).flatten()  # (bin, channel) rows
        super().__init__(shape, tuple(member.sum(dim=1).tolist()))
        self.register_buffer("freq_indices", indices, persistent=False)
        self.register_buffer("bands_per_row", member.sum(dim=0).repeat_interleave(channels), persistent=False)

    def gather_bands(self, spec: torch.Tensor) -> torch.Tensor:
        return spec[:, self.freq_indices].transpose(1, 2).flatten(2)

    def masks_to_bins(self, masks: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        batch, stems, _, frames = masks.shape
        summed = torch.zeros(batch, stems, spec.shape[2], frames, dtype=masks.dtype, device=masks.device)
        summed.index_add_(2, self.freq_indices, masks)
        return summed / self.bands_per_row.clamp(min=1).to(summed.real.dtype)[:, None]

    def output_length(self, num_samples: int) -> int | None:
        return None  # the whole frames' length, as the published model (chunks are whole hops in practice)
