"""One output root as recipes and ``verify`` see it: the sink with the trainer's files, and the bookkeeping
beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svcprep.outputs.records import OutputRecord
from svcprep.store.bookkeeping import Bookkeeping
from svcprep.store.naming import Naming
from svcprep.store.sink import Sink, open_sink


@dataclass
class OutputTree:
    sink: Sink
    bookkeeping: Bookkeeping

    @classmethod
    def open(cls, root: Path, naming: Naming | None = None, kind: str = "files") -> OutputTree:
        return cls(open_sink(root, naming, kind), Bookkeeping(root))

    @property
    def root(self) -> Path:
        return self.sink.root

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
        return set.intersection(*(set(self.bookkeeping.done_list(r, "read").load()) for r in records))
