"""What the outputs and recipes of a run see: entries, each with a typed id and where it came from.

A corpus row is one entry. A corpus stage that splits its input (slicing) turns one entry into several, each
with the index the stage gave it (:class:`~svcprep.ids.EntryId`) and its span in the input; a stage that keeps
one result per input (a separated vocal) leaves the id as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from svcprep.audio.io import Audio
from svcprep.corpus.scan import CorpusEntry
from svcprep.ids import EntryId


@dataclass(frozen=True)
class Span:
    """Samples ``[start, end)`` of the input a stage cut, at ``sample_rate``."""

    start: int
    end: int
    sample_rate: int


@dataclass(frozen=True)
class Entry:
    """One entry of the corpus as the outputs see it: its id, the corpus row it descends from (path, singer,
    dataset) and, for a piece, its span in the audio the splitting stage read."""

    id: EntryId
    source: CorpusEntry
    span: Span | None = None

    @property
    def uid(self) -> str:
        return str(self.id)

    @property
    def singer(self) -> str:
        return self.source.singer


def whole(entry: CorpusEntry) -> Entry:
    """A corpus row as an entry of its own."""
    return Entry(EntryId(entry.uid), entry)


@dataclass(frozen=True)
class SyntheticEntry:
    """An entry a recipe adds that no corpus has (RVC's mute rows): its audio is made, never decoded, goes through
    no corpus stage, and every view takes it as it is (silence is not normalised)."""

    id: EntryId
    audio: Audio
