"""RMVPE's network (the E2E model of RVC's ``rmvpe.pt``), written for exact batching: a 5-level U-Net of residual
conv blocks over the (time × 128 mel bins) log-mel, a 3-channel conv, a bidirectional GRU over time, a linear
layer to 360 bins and a sigmoid. Parameter names follow the checkpoint's key layout; widths and depths come from
the checkpoint's tensor shapes. Every temporal convolution reads zeros past each clip's padded length (the mel
padded to a multiple of 32 frames, as a run of that clip alone) and the GRU is packed, so clips batch exactly.
"""

from __future__ import annotations

import torch
from torch import nn

N_BINS, N_MELS = 360, 128


class ConvBlockRes(nn.Module):
    """Two 3×3 conv + BatchNorm + ReLU, plus the input (through a 1×1 conv when the width changes)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU())
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.conv
        h = c[2](c[1](c[0](x * mask)))
        h = c[5](c[4](c[3](h * mask)))
        return h + (self.shortcut(x) if self.shortcut is not None else x)


class ResBlocks(nn.Module):
    """``n_blocks`` residual blocks (``conv``), then an optional 2×2 average pool (returns (before, after))."""

    def __init__(self, in_channels: int, out_channels: int, n_blocks: int, pool: bool) -> None:
        super().__init__()
        self.conv = nn.ModuleList([ConvBlockRes(in_channels, out_channels)]
                                  + [ConvBlockRes(out_channels, out_channels) for _ in range(n_blocks - 1)])
        self.pool = nn.AvgPool2d(2) if pool else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        for block in self.conv:
            x = block(x, mask)
        return (x, self.pool(x)) if self.pool is not None else x


class Encoder(nn.Module):
    def __init__(self, levels: int, n_blocks: int, width: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(1)
        self.layers = nn.ModuleList([ResBlocks(1 if i == 0 else width * 2 ** (i - 1), width * 2 ** i, n_blocks, True)
                                     for i in range(levels)])

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor]):
        skips = []
        x = self.bn(x)
        for level, layer in enumerate(self.layers):
            skip, x = layer(x, masks[level])
            skips.append(skip)
        return x, skips


class Intermediate(nn.Module):
    def __init__(self, depth: int, n_blocks: int, in_channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([ResBlocks(in_channels if i == 0 else 2 * in_channels, 2 * in_channels, n_blocks,
                                               False) for i in range(depth)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return x


class DecoderBlock(nn.Module):
    def __init__(self, in_channels: int, n_blocks: int) -> None:
        super().__init__()
        out = in_channels // 2
        self.conv1 = nn.Sequential(nn.ConvTranspose2d(in_channels, out, 3, stride=2, padding=1, output_padding=1,
                                                      bias=False), nn.BatchNorm2d(out), nn.ReLU())
        self.conv2 = nn.ModuleList([ConvBlockRes(2 * out, out)] + [ConvBlockRes(out, out) for _ in range(n_blocks - 1)])

    def forward(self, x: torch.Tensor, skip: torch.Tensor, mask_in: torch.Tensor, mask_out: torch.Tensor):
        x = self.conv1(x * mask_in)
        x = torch.cat([x, skip], dim=1)
        for block in self.conv2:
            x = block(x, mask_out)
        return x


class Decoder(nn.Module):
    def __init__(self, levels: int, n_blocks: int, in_channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DecoderBlock(in_channels // 2 ** i, n_blocks) for i in range(levels)])

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor], masks: list[torch.Tensor]) -> torch.Tensor:
        levels = len(self.layers)
        for i, layer in enumerate(self.layers):
            x = layer(x, skips[-1 - i], masks[levels - i], masks[levels - i - 1])
        return x


class UNet(nn.Module):
    def __init__(self, levels: int, inter_depth: int, n_blocks: int, width: int) -> None:
        super().__init__()
        self.encoder = Encoder(levels, n_blocks, width)
        bottom = width * 2 ** (levels - 1)
        self.intermediate = Intermediate(inter_depth, n_blocks, bottom)
        self.decoder = Decoder(levels, n_blocks, 2 * bottom)

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
        x, skips = self.encoder(x, masks)
        x = self.intermediate(x, masks[-1])
        return self.decoder(x, skips, masks)


class BiGRU(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, layers: int) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=layers, batch_first=True, bidirectional=True)


class E2E(nn.Module):
    """``forward(mel (B, T, 128), padded lengths)`` → salience ``(B, T, 360)``; ``T`` a multiple of ``2**levels``."""

    def __init__(self, levels: int, inter_depth: int, n_blocks: int, width: int, n_gru: int,
                 gru_hidden: int = 256) -> None:
        super().__init__()
        self.levels = levels
        self.unet = UNet(levels, inter_depth, n_blocks, width)
        self.cnn = nn.Conv2d(width, 3, 3, padding=1)
        self.fc = nn.Sequential(BiGRU(3 * N_MELS, gru_hidden, n_gru), nn.Linear(2 * gru_hidden, N_BINS))

    def forward(self, mel: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        batch, total, _ = mel.shape
        lengths_t = torch.tensor(lengths, device=mel.device)
        masks = [(torch.arange(total // 2 ** k, device=mel.device)[None, :] < (lengths_t // 2 ** k)[:, None])
                 .to(mel.dtype)[:, None, :, None] for k in range(self.levels + 1)]
        x = self.unet(mel[:, None], masks)
        x = self.cnn(x * masks[0])  # (B, 3, T, 128)
        x = x.transpose(1, 2).flatten(-2)  # (B, T, 384)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths_t.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.fc[0].gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=total)
        return torch.sigmoid(self.fc[1](out))


def shapes_of(state: dict) -> dict[str, int]:
    """The E2E widths and depths a state dict holds (RVC's published model: levels 5, intermediate 4, blocks 4,
    width 16, one GRU layer)."""
    import re

    def count(pattern: str) -> int:
        return len({int(m.group(1)) for k in state if (m := re.match(pattern, k))})

    return {
        "levels": count(r"^unet\.encoder\.layers\.(\d+)\."),
        "inter_depth": count(r"^unet\.intermediate\.layers\.(\d+)\."),
        "n_blocks": count(r"^unet\.encoder\.layers\.0\.conv\.(\d+)\."),
        "width": int(state["unet.encoder.layers.0.conv.0.conv.0.weight"].shape[0]),
        "n_gru": count(r"^fc\.0\.gru\.weight_ih_l(\d+)$"),
        "gru_hidden": int(state["fc.0.gru.weight_hh_l0"].shape[1]),
    }
