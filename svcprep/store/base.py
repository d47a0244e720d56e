"""The store interface every output goes through, and how a store is chosen.

A store addresses per-utterance files by (file kind, uid) and dataset-level files (filelists, statistics,
config fragments) by name; it also keeps the bookkeeping: the record of what made each output, done-lists per
settings and shard, and the failure log. Where bytes go is the store's business alone: the run loop, ``verify``,
``stats`` and ``plot`` never build a path or open an output file themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.outputs.records import FileRecord, OutputRecord


class Store(ABC):
    """Per-utterance files, dataset-level files and bookkeeping of one output root."""

    kind = ""
    root: Path

    # -- per-utterance files ----------------------------------------------------------------------
    @abstractmethod
    def write(self, file: FileRecord, uid: str, value: Any) -> str:
        """Store ``value`` atomically; returns the sha256 of the stored bytes."""

    @abstractmethod
    def read(self, file: FileRecord, uid: str) -> Any: ...

    @abstractmethod
    def header(self, file: FileRecord, uid: str) -> tuple[tuple[int, ...], str]:
        """(shape, dtype) without reading the data where the format allows."""

    @abstractmethod
    def exists(self, file: FileRecord, uid: str) -> bool: ...

    @abstractmethod
    def sha256(self, file: FileRecord, uid: str) -> str: ...

    @abstractmethod
    def uids(self, file: FileRecord) -> set[str]:
        """Every uid that has this file (files the naming does not recognise are not listed)."""

    @abstractmethod
    def describe(self, file: FileRecord, uid: str) -> str:
        """Where the file is, for messages."""

    # -- dataset-level files ------------------------------------------------------------------------
    @abstractmethod
    def write_dataset_file(self, name: str, codec: str, value: Any) -> str: ...

    @abstractmethod
    def read_dataset_file(self, name: str, codec: str) -> Any: ...

    @abstractmethod
    def has_dataset_file(self, name: str) -> bool: ...

    # -- bookkeeping ----------------------------------------------------------------------------------
    @abstractmethod
    def read_record(self, output: str) -> OutputRecord | None: ...

    @abstractmethod
    def write_record(self, record: OutputRecord) -> None: ...

    @abstractmethod
    def recorded_outputs(self) -> list[str]: ...


# One line per storage backend: name -> "module:class" (a Store whose constructor takes (root, naming)).
STORES = {"files": "svcprep.store.files:FileStore"}


def open_store(root: Path, naming=None, kind: str = "files") -> Store:
    """The store of one output root (``kind``: a registered storage backend, :data:`STORES`)."""
    import importlib


    if kind not in STORES:
        raise ConfigError(f"unknown storage {kind!r}; available: {', '.join(STORES)}", "storage")
    module, name = STORES[kind].split(":")
    return getattr(importlib.import_module(module), name)(root, naming)
