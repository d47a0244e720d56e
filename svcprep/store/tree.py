"""One output root as recipes and ``verify`` see it: the sink with the trainer's files, and the bookkeeping
beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svcprep.ids import EntryId
from svcprep.outputs.records import OutputRecord
from svcprep.store.bookkeeping import Bookkeeping
from svcprep.store.naming import Naming
from svcprep.store.sink import Sink, open_sink


@dataclass
class OutputTree:
    """``pieces``: the ids of entries a corpus stage cut, by their text (from the stage records), so that a uid read
    from a done-list finds its id again without its text being parsed."""

    sink: Sink
    bookkeeping: Bookkeeping
    pieces: dict[str, EntryId] = field(default_factory=dict)
    current: set[str] | None = None  # the uids of the corpus's entries (None: unknown); done entries of others are gone

    @classmethod
    def open(cls, root: Path, naming: Naming | None = None, kind: str = "files") -> OutputTree:
        return cls(open_sink(root, naming, kind), Bookkeeping(root))

    @property
    def root(self) -> Path:
        return self.sink.root

    def id_of(self, uid: str) -> EntryId:
        """The id whose text is ``uid``: a piece known from the stage records, else a whole corpus entry."""
        return self.pieces.get(uid) or EntryId(uid)

    def write_dataset_file(self, name: str, codec: str, value: Any) -> None:
        """Through the sink; its sha256 recorded for ``verify``."""
        self.bookkeeping.remember_dataset_file(name, self.sink.write_dataset_file(name, codec, value))

    def write_text(self, name: str, text: str) -> None:
        self.bookkeeping.remember_dataset_file(name, self.sink.write_text(name, text))

    def done_uids(self, outputs: list) -> set[str]:
        """uids whose every listed output is done under its current settings."""
        return self.finished_in_all([self.bookkeeping.read_record(output.name) for output in outputs])

    def finished_in_all(self, records: list[OutputRecord | None]) -> set[str]:
        """The uids in the current done-list of every record (none when one output has no record)."""
        if not records or any(record is None for record in records):
            return set()
        done = set.intersection(*(set(self.bookkeeping.done_list(r, "read").load()) for r in records))
        return done if self.current is None else done & self.current
