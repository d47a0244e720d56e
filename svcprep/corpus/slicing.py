"""Slicing as a corpus stage: a take in, its pieces out (the rule is :mod:`svcprep.audio.slicing`)."""

from __future__ import annotations

from typing import Any

from svcprep.audio.io import Audio
from svcprep.audio.slicing import NothingKept, Slicer, SliceSettings, slice_settings_from
from svcprep.corpus.stages import CorpusStage, Cut, StageFailure


class SliceStage(CorpusStage):
    name = "slice"
    splits = True
    nothing_kept = "no piece: the take is silent throughout, or shorter than the shortest piece the slicer keeps"

    def __init__(self, slice_settings: SliceSettings) -> None:
        self.slice_settings = slice_settings
        self._slicer = Slicer(slice_settings)  # keeps its high-pass response between takes

    def settings(self) -> dict[str, Any]:
        return self.slice_settings.to_dict()

    def apply(self, audio: Audio) -> list[Cut]:
        try:
            pieces = self._slicer.pieces(audio)
        except NothingKept as exc:
            raise StageFailure(self.name, f"no piece: {exc}", kept_nothing=True) from exc
        return [Cut(piece.index, piece.audio, piece.start, piece.end, piece.source) for piece in pieces]


def slice_stage(value: Any, overrides: dict[str, Any]) -> SliceStage:
    """From ``slice:`` of a run config (a preset name, a mapping, or settings) and ``--set slice.KEY=VALUE``."""
    return SliceStage(slice_settings_from(value, overrides))
