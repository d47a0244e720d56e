"""Corpus stages: what happens to the corpus before any output is made. A stage turns one entry's audio into zero
or more entries' audio (slicing cuts a take into pieces; separation keeps one stem of a song), in the order the
run config lists them (``stages:``); the outputs and recipes see only the entries that come out.

A new stage is one module with a :class:`CorpusStage` subclass plus one line in :data:`STAGES`. Its settings
decide the pieces, so they are part of each piece's record (:mod:`svcprep.corpus.records`): a rerun with other
settings is refused, or redone with ``--overwrite``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from svcprep.audio.io import Audio
from svcprep.corpus.entries import Span
from svcprep.errors import ConfigError, SvcprepError
from svcprep.ids import EntryId


@dataclass(frozen=True)
class Cut:
    """One result of a stage: the audio, its index among the stage's results for that input (counted before any
    result is dropped, so indices never shift) and its samples ``[start, end)`` in the stage's input."""

    index: int
    audio: Audio
    start: int
    end: int
    source: Audio | None = None  # the input's own samples over the span, where ``audio`` was processed to cut it


# What a stage may raise for one entry without the run stopping (that entry fails, the run goes on).
ENTRY_ERRORS = (SvcprepError, OSError, ValueError, RuntimeError, ArithmeticError, MemoryError)


class StageFailure(SvcprepError):
    """A corpus entry that a stage could not turn into anything (reported with the stage's name). ``kept_nothing``:
    the stage ran and kept nothing (a silent take), which a rerun need not try again; otherwise it failed."""

    def __init__(self, stage: str, reason: str, kept_nothing: bool = False) -> None:
        super().__init__(reason)
        self.stage, self.kept_nothing = stage, kept_nothing


class CorpusStage(ABC):
    """One step applied to every corpus entry before the outputs."""

    name: ClassVar[str] = ""
    splits: ClassVar[bool] = False  # results are pieces with indices, or one result standing in for its input
    nothing_kept: ClassVar[str] = "nothing was kept"  # the failure when an input gives no result

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that decides the results (recorded with them)."""

    @abstractmethod
    def apply(self, audio: Audio) -> list[Cut]:
        """The results of one entry's audio (may be none: a take that is silent throughout)."""


# One line per stage: the name a run config uses -> "module:function" building it from (value, --set overrides).
STAGES = {"slice": "svcprep.corpus.slicing:slice_stage"}


def stage_from_config(name: str, value: Any, overrides: dict[str, Any] | None = None) -> CorpusStage:
    if name not in STAGES:
        raise ConfigError(f"unknown corpus stage {name!r}; known: {', '.join(STAGES)}", "stages")
    module, function = STAGES[name].split(":")
    return getattr(importlib.import_module(module), function)(value, overrides or {})


@dataclass(frozen=True)
class Leaf:
    """An entry that came out of the whole chain: its id, its audio, and its span in the input of the last stage
    that split (``None``: not split)."""

    id: EntryId
    audio: Audio
    span: Span | None
    source: Audio | None = None  # the corpus entry's own samples over the span (``None``: ``audio`` is them)


@dataclass(frozen=True)
class StageChain:
    """The stages of a run, in order."""

    stages: tuple[CorpusStage, ...]

    def settings(self) -> list[dict[str, Any]]:
        return [{"stage": stage.name, **stage.settings()} for stage in self.stages]

    @property
    def key(self) -> str:
        """Names the records of these settings: other settings give other pieces."""
        return hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()[:16]

    def find(self, name: str) -> CorpusStage | None:
        return next((stage for stage in self.stages if stage.name == name), None)

    def apply(self, entry: EntryId, audio: Audio) -> list[Leaf]:
        """Every stage in order over one corpus entry's audio (an input's audio is freed once its stage ran);
        :class:`StageFailure` when a stage fails or keeps nothing of the entry."""
        items = [Leaf(entry, audio, None)]
        for stage in self.stages:
            produced: list[Leaf] = []
            while items:
                item = items.pop(0)
                try:
                    cuts = stage.apply(item.audio)
                except StageFailure:
                    raise
                except ENTRY_ERRORS as exc:
                    raise StageFailure(stage.name, str(exc) or type(exc).__name__) from exc
                for cut in cuts:
                    span = Span(cut.start, cut.end, cut.audio.sample_rate) if stage.splits else item.span
                    produced.append(Leaf(item.id.piece(cut.index) if stage.splits else item.id, cut.audio, span,
                                         cut.source if stage.splits else item.source))
            if not produced:
                raise StageFailure(stage.name, stage.nothing_kept, kept_nothing=True)
            items = produced
        return items
