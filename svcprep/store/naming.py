"""Namings: where a file store puts each (file kind, uid). A recipe's exact on-disk layout is one naming."""

from __future__ import annotations

from pathlib import PurePosixPath


class Naming:
    """Default: ``<file kind>/<uid><suffix>`` for per-utterance files, ``<name>`` for dataset-level files."""

    def relative_path(self, file: str, uid: str, suffix: str) -> PurePosixPath:
        return PurePosixPath(file) / f"{uid}{suffix}"

    def uid_of(self, file: str, relative: PurePosixPath, suffix: str) -> str | None:
        """The uid a relative path belongs to, or ``None`` when it is not this naming's file of that kind."""
        parts = relative.parts
        if len(parts) < 2 or parts[0] != file or not relative.name.endswith(suffix):
            return None
        if any(p.startswith((".", "_")) for p in parts[1:]):
            return None
        return str(PurePosixPath(*parts[1:]))[: -len(suffix)] if suffix else str(PurePosixPath(*parts[1:]))

    def listing_dir(self, file: str) -> PurePosixPath | None:
        """The dir below which every file of this kind lies (``None``: not listable)."""
        return PurePosixPath(file)

    def dataset_path(self, name: str) -> PurePosixPath:
        return PurePosixPath(name)


DEFAULT_NAMING = Naming()
