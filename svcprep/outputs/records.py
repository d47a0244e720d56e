"""Typed bookkeeping records: what made an output (``meta.json``), and the done-list lines.

An :class:`OutputRecord` holds everything that shapes an output's files; its :attr:`~OutputRecord.key` (a hash
of all of it but the svcprep version) names the done-list of those settings, so files made under other
settings are never counted as done. ``verify`` reads the same records to know each file's dtype, grid and
expected row count.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from svcprep.errors import StorageError


class RecordError(StorageError):
    """A bookkeeping file is not what svcprep writes (damaged, edited, or from another tool)."""


@dataclass(frozen=True)
class Wav:
    """Audio to store: ``samples`` ``(num_samples,)`` (int16 for 16-bit PCM, float32 otherwise) at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int


@dataclass(frozen=True)
class FileRecord:
    """One file kind of an output: ``name`` (the naming's key), codec, dtype and the documented shape."""

    name: str
    codec: str
    dtype: str
    shape: str


@dataclass(frozen=True)
class GridRecord:
    sample_rate: int
    hop_length: int


@dataclass(frozen=True)
class FramesRecord:
    """How many rows a uid's files have: the length along ``axis`` of file ``reference`` of the same uid, or,
    when ``hop_length`` is set, that length (audio samples) ``// hop_length`` (``+ 1`` with ``plus_one``)."""

    reference: str
    axis: int = 0
    hop_length: int | None = None
    plus_one: bool = False

    def expected(self, reference_length: int) -> int:
        if self.hop_length is None:
            return reference_length
        return reference_length // self.hop_length + int(self.plus_one)


@dataclass(frozen=True)
class OutputRecord:
    output: str
    kind: str
    files: tuple[FileRecord, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    grid: GridRecord | None = None  # the grid the rows are on
    native_grid: GridRecord | None = None  # the model's own grid, for outputs aligned from it
    frames: FramesRecord | None = None  # where the row count comes from (None: no check)
    dim: int | None = None  # width of (T, D) files
    tolerance: int | None = None  # rows of mismatch accepted against ``frames`` (native-rate files)
    svcprep_version: str = ""

    @property
    def key(self) -> str:
        """A short stable hash of every setting (not the svcprep version)."""
        data = self.to_dict()
        data.pop("svcprep_version")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def file(self, name: str) -> FileRecord:
        return next(f for f in self.files if f.name == name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def differences(self, other: OutputRecord) -> list[str]:
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k != "svcprep_version" and mine[k] != theirs.get(k))

    @classmethod
    def from_json(cls, text: str, where: str) -> OutputRecord:
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError(f"a {type(data).__name__}, not an object")
            missing = sorted({"output", "kind", "files"} - set(data))
            if missing:
                raise KeyError(", ".join(missing))
            return cls(
                output=_string(data["output"]), kind=_string(data["kind"]),
                files=tuple(FileRecord(**{k: _string(v) for k, v in f.items()}) for f in data["files"]),
                settings=_mapping(data.get("settings", {})),
                grid=_optional(GridRecord, data.get("grid")),
                native_grid=_optional(GridRecord, data.get("native_grid")),
                frames=_optional(FramesRecord, data.get("frames")),
                dim=data.get("dim"), tolerance=data.get("tolerance"),
                svcprep_version=str(data.get("svcprep_version", "")),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise RecordError(f"{where} is not an svcprep record ({type(exc).__name__}: {exc}); delete it and "
                              "rerun with --overwrite to redo that output") from None


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {value!r}")
    return value


def _optional(kind: type, value: Any) -> Any:
    if value is None:
        return None
    record = kind(**_mapping(value))
    for f in dataclasses.fields(kind):
        item = getattr(record, f.name)
        if f.type in ("int", "int | None") and item is not None and (isinstance(item, bool)
                                                                       or not isinstance(item, int)):
            raise TypeError(f"{kind.__name__}.{f.name} must be an integer, got {item!r}")
    return record


@dataclass(frozen=True)
class DoneEntry:
    """One done-list line: the uid, the sha256 of each of its files as written, and the stamp (size, mtime) of the
    source file they were made from: a source replaced under the same name is redone."""

    uid: str
    sha256: dict[str, str]
    source: str | None = None

    def to_line(self) -> str:
        data: dict[str, Any] = {"uid": self.uid, "sha256": self.sha256}
        if self.source is not None:
            data["source"] = self.source
        return json.dumps(data, ensure_ascii=True, sort_keys=True)

    @classmethod
    def from_line(cls, line: str) -> DoneEntry | None:
        """``None`` for a line cut by a kill, or anything else that is not a done entry."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not (isinstance(data, dict) and isinstance(data.get("uid"), str) and isinstance(data.get("sha256"), dict)):
            return None
        source = data.get("source")
        return cls(data["uid"], {str(k): str(v) for k, v in data["sha256"].items()},
                   source if isinstance(source, str) else None)
