"""What an extractor is, without loading it: sample rate, frame grid and exact frame counts.

Nothing here imports torch; ``svcprep hops`` and ``svcprep --help`` rely on that.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from svcprep.align.grid import FrameGrid, ceil_div, format_rate


def _dot(values: tuple[int, ...]) -> str:
    return "·".join(str(v) for v in values)


@dataclass(frozen=True)
class ConvStackFrames:
    """Unpadded strided convolutions (HuBERT / wav2vec2 / WavLM / MERT feature encoders).

    Each layer ``(kernel_size, stride)`` maps ``n`` frames to ``floor((n - k) / s) + 1`` (0 if ``n < k``).
    """

    layers: tuple[tuple[int, int], ...]

    def num_frames(self, num_samples: int) -> int:
        n = num_samples
        for kernel_size, stride in self.layers:
            if n < kernel_size:
                return 0
            n = (n - kernel_size) // stride + 1
        return n

    @property
    def hop_length(self) -> int:
        return prod(s for _, s in self.layers)

    @property
    def min_samples(self) -> int:
        """Receptive field: samples needed for one output frame."""
        span, jump = 1, 1
        for kernel_size, stride in self.layers:
            span += (kernel_size - 1) * jump
            jump *= stride
        return span

    def describe(self) -> str:
        return f"conv strides {_dot(tuple(s for _, s in self.layers))} = {self.hop_length} samples"


@dataclass(frozen=True)
class CeilFrames:
    """Padded strided codec encoders (Encodec, DAC): ``ceil(num_samples / hop)`` frames."""

    strides: tuple[int, ...]

    def num_frames(self, num_samples: int) -> int:
        return ceil_div(num_samples, self.hop_length) if num_samples > 0 else 0

    @property
    def hop_length(self) -> int:
        return prod(self.strides)

    @property
    def min_samples(self) -> int:
        return 1

    def describe(self) -> str:
        return f"strides {_dot(self.strides)} = {self.hop_length} samples"


@dataclass(frozen=True)
class WhisperFrames:
    """Whisper: ``n = num_samples // mel_hop`` log-mel frames, then convs of kernel 3, padding 1.

    A stride-``s`` conv maps ``n`` frames to ``floor((n - 1) / s) + 1``; with strides (1, 2) that is
    ``ceil(n / 2)``.
    """

    mel_hop_length: int
    conv_strides: tuple[int, ...] = (1, 2)

    def num_frames(self, num_samples: int) -> int:
        n = num_samples // self.mel_hop_length
        for stride in self.conv_strides:
            if n <= 0:
                return 0
            n = (n - 1) // stride + 1
        return n

    @property
    def hop_length(self) -> int:
        return self.mel_hop_length * prod(self.conv_strides)

    @property
    def min_samples(self) -> int:
        return self.mel_hop_length

    def describe(self) -> str:
        return f"mel hop {self.mel_hop_length} × conv strides {_dot(self.conv_strides)} = {self.hop_length} samples"


@dataclass(frozen=True)
class CenteredFrames:
    """Frames centred on every ``hop``-th sample (a ``center=True`` STFT, or a padding that gives the same count):
    ``num_samples // hop + 1`` frames once the clip holds ``min_samples`` (the neural pitch trackers)."""

    hop: int
    min_length: int = 1

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop + 1 if num_samples >= self.min_length else 0

    @property
    def hop_length(self) -> int:
        return self.hop

    @property
    def min_samples(self) -> int:
        return self.min_length

    def describe(self) -> str:
        return f"frames centred every {self.hop} samples"


@dataclass(frozen=True)
class ExtractorSpec:
    """Frozen metadata of one configured extractor.

    ``num_frames(num_samples)`` is exact; ``receptive_field`` is the fewest samples that give one frame.
    Outputs are ``(num_frames, dim)`` per clip, on the grid ``(hop_length, sample_rate)``.
    """

    name: str
    family: str
    sample_rate: int
    dim: int
    frames: ConvStackFrames | CeilFrames | WhisperFrames | CenteredFrames
    channels: int = 1
    integer_output: bool = False

    @property
    def hop_length(self) -> int:
        return self.frames.hop_length

    @property
    def receptive_field(self) -> int:
        return self.frames.min_samples

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(self.hop_length, self.sample_rate)

    def num_frames(self, num_samples: int) -> int:
        return self.frames.num_frames(num_samples)

    def describe(self) -> str:
        return f"{self.name}: {self.sample_rate} Hz, {self.frames.describe()} → {format_rate(self.grid.frame_rate)} Hz"
