"""FCPE's conv-only network (torchfcpe's ``CFNaiveMelPE`` with ``conv_only``), written for exact batching.

``input_stack``: conv (k 3) → GroupNorm(4) → LeakyReLU → conv (k 3); ``net``: layers of ``x + conformer(x)``
with ``conformer`` = LayerNorm → 1×1 conv to 2·2·D → GLU → depthwise conv (k 31) → SiLU → 1×1 conv back to D;
a final LayerNorm; a weight-normed linear layer to 360 bins; a sigmoid. Parameter names follow the checkpoint.
GroupNorm statistics come from each clip's own frames (over the whole clip even when it runs in windows), and
every temporal convolution reads zeros past each clip's end, so clips batch (and window) exactly.
"""

from __future__ import annotations

import torch
from torch import nn

GROUPS = 4
KERNEL = 31


class ConformerConv(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        inner = 2 * dim
        self.net = nn.Sequential(
            nn.LayerNorm(dim), nn.Identity(), nn.Conv1d(dim, 2 * inner, 1), nn.GLU(dim=1),
            _DepthWise(inner), nn.SiLU(), nn.Conv1d(inner, dim, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        n = self.net
        h = n[0](x).transpose(1, 2)  # (B, D, T)
        h = n[3](n[2](h))
        h = n[5](n[4](h if mask is None else h * mask))
        return n[6](h).transpose(1, 2)


class _DepthWise(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, KERNEL, padding=KERNEL // 2, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class EncoderLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conformer = ConformerConv(dim)
        self.norm = nn.LayerNorm(dim)  # in the checkpoint; unused without attention

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return x + self.conformer(x, mask)


class Encoder(nn.Module):
    def __init__(self, layers: int, dim: int) -> None:
        super().__init__()
        self.encoder_layers = nn.ModuleList([EncoderLayer(dim) for _ in range(layers)])


class CFNaiveMelPE(nn.Module):
    def __init__(self, n_mels: int, dim: int, layers: int, bins: int) -> None:
        super().__init__()
        self.input_stack = nn.Sequential(nn.Conv1d(n_mels, dim, 3, padding=1), nn.GroupNorm(GROUPS, dim),
                                         nn.LeakyReLU(), nn.Conv1d(dim, dim, 3, padding=1))
        self.net = Encoder(layers, dim)
        self.norm = nn.LayerNorm(dim)
        self.output_proj = nn.utils.parametrizations.weight_norm(nn.Linear(dim, bins))
        self.register_buffer("cent_table", torch.zeros(bins))
        self.register_buffer("gaussian_blurred_cent_mask", torch.zeros(()))

    def group_statistics(self, mel: torch.Tensor, chunk_frames: int = 8192) -> torch.Tensor:
        """``(GROUPS, 2)`` mean and variance of the first conv's output over every frame of one clip ``(T, n_mels)``,
        computed in chunks (what GroupNorm sees when the whole clip runs at once)."""
        return self.group_statistics_of(lambda a, b: mel[a:b], mel.shape[0], mel.device, chunk_frames)

    def group_statistics_of(self, frames, total: int, device: torch.device, chunk_frames: int = 8192) -> torch.Tensor:
        """:meth:`group_statistics` of a clip of ``total`` frames whose frames ``[a, b)`` ``frames(a, b)`` gives
        (read forward: a long file's mel as it streams)."""
        conv = self.input_stack[0]
        sums = torch.zeros(GROUPS, dtype=torch.float64, device=device)
        squares = torch.zeros(GROUPS, dtype=torch.float64, device=device)
        for first in range(0, total, chunk_frames):
            last = min(total, first + chunk_frames)
            # one frame of context each side, (1, n_mels, frames)
            piece = frames(max(0, first - 1), min(total, last + 1)).to(device).T[None].to(conv.weight.dtype)
            piece = torch.nn.functional.pad(piece, (int(first == 0), int(last == total)))  # the conv's zero padding
            h = torch.nn.functional.conv1d(piece, conv.weight, conv.bias).double().reshape(GROUPS, -1)
            sums += h.sum(dim=1)
            squares += (h * h).sum(dim=1)
        count = total * conv.out_channels // GROUPS
        mean = sums / count
        return torch.stack([mean, squares / count - mean * mean], dim=1)

    def forward(self, mel: torch.Tensor, lengths: list[int], statistics: list[torch.Tensor | None]) -> torch.Tensor:
        """``mel`` ``(B, T, n_mels)`` zero-padded; ``statistics`` per row: :meth:`group_statistics` of its whole
        clip when the row is a window of it, ``None`` when the row is the whole clip (taken from its own frames
        here). Returns ``(B, T, bins)``."""
        batch, total, _ = mel.shape
        if all(length == total for length in lengths):
            mask = None  # no padding: nothing to keep out
        else:
            mask = (torch.arange(total, device=mel.device)[None, :]
                    < torch.tensor(lengths, device=mel.device)[:, None]).to(mel.dtype)[:, None, :]  # (B, 1, T)
        stack = self.input_stack
        x = mel.transpose(1, 2)
        h = stack[0](x if mask is None else x * mask)  # (B, D, T)
        norm = stack[1]
        stats = torch.stack([row if row is not None else _own_statistics(h[i, :, : lengths[i]])
                             for i, row in enumerate(statistics)]).to(device=mel.device)  # (B, GROUPS, 2)
        grouped = h.reshape(batch, GROUPS, -1, total)
        mean = stats[:, :, 0, None, None].to(h.dtype)
        var = stats[:, :, 1, None, None].to(h.dtype)
        h = ((grouped - mean) / torch.sqrt(var + norm.eps)).reshape_as(h)
        h = h * norm.weight[None, :, None] + norm.bias[None, :, None]
        h = stack[2](h)
        h = stack[3](h if mask is None else h * mask).transpose(1, 2)  # (B, T, D)
        for layer in self.net.encoder_layers:
            h = layer(h, mask)
        return torch.sigmoid(self.output_proj(self.norm(h)))


def _own_statistics(h: torch.Tensor) -> torch.Tensor:
    """``(GROUPS, 2)`` mean and variance of one clip's first-conv output ``(D, T)`` (its valid frames only)."""
    grouped = h.double().reshape(GROUPS, -1)
    mean = grouped.mean(dim=1)
    return torch.stack([mean, (grouped * grouped).mean(dim=1) - mean * mean], dim=1)
