"""Views: the audio a recipe's outputs are computed from. ``raw`` is the decoded file itself; a recipe whose
trainer reads audio it wrote (so-vits-svc's trimmed, normalised int16 wav; RVC's normalised pieces) defines a
view that makes that audio, so every output of the recipe comes from exactly what the trainer will load.

A view's :meth:`View.base` is computed once per clip; every sample rate of the view is resampled from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from svcprep.audio.io import Audio, resample, to_channels


@dataclass(frozen=True)
class View:
    """The decoded audio as it is (any rate, any channels). A piece cut from a take is the take's own samples over
    the piece's span, unless ``reads_slicer_audio``: then it is the audio the slicer cut (mono, at the slicing rate,
    high-passed as its settings say), which is RVC's own preprocessing."""

    name = "raw"
    reads_slicer_audio: ClassVar[bool] = False

    def base(self, source: Audio) -> Audio:
        return source


RAW = View()


@dataclass(frozen=True)
class SlicerView(View):
    """A piece as the slicer cut it (mono at the slicing rate, high-passed as its settings say)."""

    name = "sliced"
    reads_slicer_audio: ClassVar[bool] = True


SLICED = SlicerView()


@dataclass(frozen=True)
class Resampled(View):
    """Mono at ``sample_rate`` with librosa's length (what a trainer that ``librosa.load``s at its rate sees); every
    other rate is resampled from it, as the trainer's own encoders resample its audio."""

    name = "resampled"
    sample_rate: int = 44100

    def base(self, source: Audio) -> Audio:
        wav = resample(to_channels(source, 1), source.sample_rate, self.sample_rate, "librosa")
        return Audio(wav[:, None], self.sample_rate)
