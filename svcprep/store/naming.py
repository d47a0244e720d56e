"""Namings: where a sink puts each (file kind, entry). A recipe's exact on-disk layout is one naming."""

from __future__ import annotations

from pathlib import PurePosixPath

from svcprep.ids import EntryId


class Naming:
    """Default: ``<file kind>/<uid><suffix>`` for per-entry files (the id's text), ``<name>`` for dataset-level
    files."""

    def relative_path(self, file: str, uid: EntryId, suffix: str) -> PurePosixPath:
        return PurePosixPath(file) / f"{uid}{suffix}"

    def uid_of(self, file: str, relative: PurePosixPath, suffix: str) -> EntryId | None:
        """The entry a relative path belongs to, or ``None`` when it is not this naming's file of that kind."""
        parts = relative.parts
        if len(parts) < 2 or parts[0] != file or not relative.name.endswith(suffix):
            return None
        if any(p.startswith((".", "_")) for p in parts[1:]):
            return None
        text = str(PurePosixPath(*parts[1:]))
        return EntryId(text[: -len(suffix)] if suffix else text)

    def listing_dirs(self, file: str) -> tuple[PurePosixPath, ...]:
        """The dirs below which every file of this kind lies (``verify`` lists them to find stray files)."""
        return (PurePosixPath(file),)

    def dataset_path(self, name: str) -> PurePosixPath:
        return PurePosixPath(name)


DEFAULT_NAMING = Naming()
