"""The file sink: one file per (file kind, uid) under the root, at the paths a recipe's naming gives, and
dataset-level files at their names. Writes are atomic (a temp file in the root's bookkeeping dir, on the same
filesystem, renamed into place)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from svcprep.errors import StorageError
from svcprep.fileio import GrowingNpy, atomic_write, atomic_write_text, file_sha256, remove_stale_temp_files
from svcprep.ids import EntryId
from svcprep.outputs.records import FileRecord
from svcprep.store.bookkeeping import BOOKKEEPING
from svcprep.store.codecs import CODECS
from svcprep.store.naming import Naming
from svcprep.store.sink import Sink


class FileSink(Sink):
    kind = "files"

    @property
    def temp_dir(self) -> Path:
        return self.root / BOOKKEEPING / "tmp"

    def prepare(self) -> None:
        """A probe file in the temp dir, and a rename from there into the root (a temp dir on another filesystem
        fails here, before any model loads, not at the first output); a killed run's temp files are removed (old
        ones only: other shards may be writing)."""
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.temp_dir)
        probe = self.temp_dir / f".probe-{os.getpid()}.tmp"
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        target = self.root / f".svcprep-probe-{os.getpid()}"
        os.replace(probe, target)
        target.unlink()

    # -- per-uid files ----------------------------------------------------------------------------------------
    def path(self, file: FileRecord, uid: EntryId) -> Path:
        relative = self.naming.relative_path(file.name, uid, CODECS[file.codec].suffix)
        if relative.is_absolute() or ".." in relative.parts:
            raise StorageError(f"uid {str(uid)!r} would be written outside {self.root}")
        return self.root / relative

    def write(self, file: FileRecord, uid: EntryId, value: Any) -> str:
        codec = CODECS[file.codec]
        return atomic_write(self.path(file, uid), lambda f: codec.encode(value, f), self.temp_dir)

    def grow(self, file: FileRecord, uid: EntryId, shape: tuple[int, ...], dtype: str, axis: int) -> GrowingNpy:
        if file.codec != "npy":
            return super().grow(file, uid, shape, dtype, axis)
        return GrowingNpy(self.path(file, uid), self.temp_dir, shape, dtype, axis)

    def read(self, file: FileRecord, uid: EntryId) -> Any:
        return CODECS[file.codec].decode(self.path(file, uid))

    def header(self, file: FileRecord, uid: EntryId) -> tuple[tuple[int, ...], str]:
        return CODECS[file.codec].header(self.path(file, uid))

    def exists(self, file: FileRecord, uid: EntryId) -> bool:
        return self.path(file, uid).is_file()

    def sha256(self, file: FileRecord, uid: EntryId) -> str:
        return file_sha256(self.path(file, uid))

    def _listed(self, file: FileRecord, naming: Naming | None = None) -> Iterator[tuple[PurePosixPath, EntryId]]:
        """(relative path, id) of every file of this kind the naming (default: the sink's) recognises."""
        naming = naming or self.naming
        suffix = CODECS[file.codec].suffix
        for base in naming.listing_dirs(file.name):
            if (self.root / base).is_dir():
                for path in (self.root / base).rglob(f"*{suffix}"):
                    relative = PurePosixPath(path.relative_to(self.root).as_posix())
                    uid = naming.uid_of(file.name, relative, suffix)
                    if uid is not None:
                        yield relative, uid

    def uids(self, file: FileRecord) -> set[EntryId]:
        suffix = CODECS[file.codec].suffix
        return {uid for relative, uid in self._listed(file)
                if self.naming.relative_path(file.name, uid, suffix) == relative}

    def misplaced(self, file: FileRecord) -> list[str]:
        suffix = CODECS[file.codec].suffix
        return sorted(str(relative) for relative, uid in self._listed(file)
                      if self.naming.relative_path(file.name, uid, suffix) != relative)

    def unowned(self, files: list[FileRecord]) -> list[str]:
        candidates: set[PurePosixPath] = set()
        recognised: set[PurePosixPath] = set()
        for file in files:
            suffix = CODECS[file.codec].suffix
            for base in self.naming.listing_dirs(file.name):
                if (self.root / base).is_dir():
                    candidates |= {PurePosixPath(p.relative_to(self.root).as_posix())
                                   for p in (self.root / base).rglob(f"*{suffix}") if p.is_file()}
            recognised |= {relative for relative, _ in self._listed(file)}
        return sorted(str(p) for p in candidates - recognised)

    def prune(self, file: FileRecord, keep: Callable[[EntryId], bool], listed_by: Naming | None = None) -> int:
        suffix, removed = CODECS[file.codec].suffix, 0
        for relative, uid in list(self._listed(file, listed_by)):
            if keep(uid) and self.naming.relative_path(file.name, uid, suffix) == relative:
                continue
            owner = self.naming.uid_of(file.name, relative, suffix) if listed_by is not None else None
            if owner is not None and keep(owner) and self.naming.relative_path(file.name, owner, suffix) == relative:
                continue  # the name an entry had under the old naming is a current entry's file now
            (self.root / relative).unlink(missing_ok=True)
            removed += 1
        return removed

    def describe(self, file: FileRecord, uid: EntryId) -> str:
        return str(self.path(file, uid))

    def location(self, file: FileRecord, uid: EntryId, *, relative: bool = False) -> str:
        path = self.path(file, uid)
        return path.relative_to(self.root).as_posix() if relative else str(path.resolve())

    # -- dataset-level files ----------------------------------------------------------------------------------
    def dataset_path(self, name: str) -> Path:
        relative = self.naming.dataset_path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise StorageError(f"dataset file {name!r} would be written outside {self.root}")
        return self.root / relative

    def write_dataset_file(self, name: str, codec: str, value: Any) -> str:
        return atomic_write(self.dataset_path(name), lambda f: CODECS[codec].encode(value, f), self.temp_dir)

    def write_text(self, name: str, text: str) -> str:
        return atomic_write_text(self.dataset_path(name), text, self.temp_dir)

    def read_dataset_file(self, name: str, codec: str) -> Any:
        return CODECS[codec].decode(self.dataset_path(name))

    def read_text(self, name: str) -> str:
        return self.dataset_path(name).read_text(encoding="utf-8")

    def has_dataset_file(self, name: str) -> bool:
        return self.dataset_path(name).is_file()

    def dataset_sha256(self, name: str) -> str:
        return file_sha256(self.dataset_path(name))

    def dataset_location(self, name: str) -> str:
        return str(self.dataset_path(name).resolve())

    def located(self, location: str) -> bool:
        path = Path(location)
        return (path if path.is_absolute() else self.root / path).is_file()
