"""Views: the audio a recipe's outputs are computed from. ``raw`` is the decoded file itself; a recipe whose
trainer reads audio it wrote (so-vits-svc's trimmed, normalised int16 wav; RVC's normalised pieces) defines a
view that makes that audio, so every output of the recipe comes from exactly what the trainer will load.

A view's :meth:`View.base` is computed once per clip; every sample rate of the view is resampled from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from svcprep.audio.io import Audio


@dataclass(frozen=True)
class View:
    """The decoded audio as it is (any rate, any channels)."""

    name = "raw"

    def base(self, source: Audio) -> Audio:
        return source


RAW = View()
