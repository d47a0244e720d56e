"""The sink: where an output root's files go, and how a sink is chosen.

A sink stores a uid's files, addressed by (file kind, uid) at the places its naming gives, and dataset-level files
(file lists, statistics, config fragments) by name. It is opened for a root with its naming, and closed when the
run is over (``with`` or :meth:`Sink.close`): the close is where a sharded sink flushes its last shard or an
object-store sink finishes its uploads. What made the files, what is finished and what failed is not the sink's
business but the bookkeeping's (:mod:`svcprep.store.bookkeeping`).

A new sink is one module implementing :class:`Sink` plus one line in :data:`SINKS`; run configs choose it by name
(``storage: NAME``).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from svcprep.errors import ConfigError, StorageError
from svcprep.ids import EntryId
from svcprep.outputs.records import FileRecord
from svcprep.store.naming import DEFAULT_NAMING, Naming


class Sink(ABC):
    """Per-entry files and dataset-level files of one output root."""

    kind: ClassVar[str] = ""

    def __init__(self, root: Path, naming: Naming | None = None) -> None:
        self.root = Path(root)
        self.naming = naming or DEFAULT_NAMING

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 (a sink that buffers nothing has nothing to do)
        """Make everything written so far durable where it belongs (a shard flushed, an upload finished)."""

    def prepare(self) -> None:  # noqa: B027 (optional: a sink with nothing to probe)
        """Before a run writes (and before any model loads): raise ``OSError`` when nothing could be written, and
        clear what a killed run left half-written."""

    # -- per-uid files ------------------------------------------------------------------------------------
    @abstractmethod
    def write(self, file: FileRecord, uid: EntryId, value: Any) -> str:
        """Store ``value`` atomically; returns the sha256 of the stored bytes."""

    def grow(self, file: FileRecord, uid: EntryId, shape: tuple[int, ...], dtype: str, axis: int) -> Any:
        """A file written a block at a time (a long file's output): an object with ``write(start, block)`` along
        ``axis``, ``commit() -> sha256`` (atomic, like :meth:`write`) and ``abort()``."""
        raise StorageError(f"the {self.kind} sink cannot write {file.name} piece by piece")

    @abstractmethod
    def read(self, file: FileRecord, uid: EntryId) -> Any: ...

    @abstractmethod
    def header(self, file: FileRecord, uid: EntryId) -> tuple[tuple[int, ...], str]:
        """(shape, dtype) without reading the data where the format allows."""

    @abstractmethod
    def exists(self, file: FileRecord, uid: EntryId) -> bool: ...

    @abstractmethod
    def sha256(self, file: FileRecord, uid: EntryId) -> str: ...

    @abstractmethod
    def uids(self, file: FileRecord) -> set[EntryId]:
        """Every entry that has this file (files the naming does not recognise are not listed)."""

    def misplaced(self, file: FileRecord) -> list[str]:
        """Files of this kind the naming recognises at a place it would not put them (a layout that changed)."""
        return []

    def unowned(self, files: list[FileRecord]) -> list[str]:
        """Files in the places these kinds of file live, with their suffixes, that the naming recognises as none of
        them (a stray piece, a file added by hand); a sink that cannot list its files finds none."""
        return []

    def prune(self, file: FileRecord, keep: Callable[[EntryId], bool], listed_by: Naming | None = None) -> int:
        """Remove the files of this kind of every entry ``keep`` refuses, and those not where the sink's naming puts
        them, among the files ``listed_by`` (an earlier naming of the tree; default: the sink's) recognises;
        returns how many (a sink that cannot list its files removes none)."""
        return 0

    @abstractmethod
    def describe(self, file: FileRecord, uid: EntryId) -> str:
        """Where the file is, for messages."""

    @abstractmethod
    def location(self, file: FileRecord, uid: EntryId, *, relative: bool = False) -> str:
        """How a trainer's file list names the file: absolute, or relative to the root (``/`` separators)."""

    # -- dataset-level files --------------------------------------------------------------------------------
    @abstractmethod
    def write_dataset_file(self, name: str, codec: str, value: Any) -> str:
        """Store ``value`` under ``name`` atomically; returns the sha256 of the stored bytes."""

    @abstractmethod
    def write_text(self, name: str, text: str) -> str: ...

    @abstractmethod
    def read_dataset_file(self, name: str, codec: str) -> Any: ...

    @abstractmethod
    def read_text(self, name: str) -> str: ...

    @abstractmethod
    def has_dataset_file(self, name: str) -> bool: ...

    @abstractmethod
    def dataset_sha256(self, name: str) -> str: ...

    @abstractmethod
    def dataset_location(self, name: str) -> str:
        """Where a dataset-level file (or dir) is, absolute, as a trainer's config names it and messages show it."""

    @abstractmethod
    def located(self, location: str) -> bool:
        """Whether a location read back from a file list (absolute, or relative to the root) holds a file."""


# One line per sink: name -> "module:class" (a Sink whose constructor takes (root, naming)).
SINKS = {"files": "svcprep.store.files:FileSink"}


def open_sink(root: Path, naming: Naming | None = None, kind: str = "files") -> Sink:
    """The sink of one output root (``kind``: a registered sink, :data:`SINKS`)."""
    if kind not in SINKS:
        raise ConfigError(f"unknown storage {kind!r}; available: {', '.join(SINKS)}", "storage")
    module, name = SINKS[kind].split(":")
    return getattr(importlib.import_module(module), name)(root, naming)
