"""Speaker and file names for recipes whose trainers read them from paths, and deterministic splits.

Names keep letters and digits of any script, ``_`` and ``-`` (NFC-normalised; anything else, ``.`` and spaces
included, becomes ``_``): every trainer's path handling (so-vits-svc's ``.replace(".wav", ...)``, RVC's
``name.split(".")[0]``, DDSP-SVC's ``<id>_<speaker>`` folders) then works, and ``Zoë`` or ``张三`` stay themselves.
Two sources that would share a name are a usage error, found before anything runs.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import ClassVar

from svcprep.corpus.scan import Corpus
from svcprep.errors import ConfigError
from svcprep.ids import PIECE_DIGITS, EntryId
from svcprep.store.naming import Naming

_UNSAFE = re.compile(r"[^\w-]")  # \w: letters, digits and '_' of any script


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", unicodedata.normalize("NFC", text)) or "_"


@dataclass(frozen=True)
class NameTable:
    """Per source uid: (speaker, file stem). Pieces cut from a source get ``<stem>_<piece number, 5 digits>``."""

    names: dict[str, tuple[str, str]]

    def speaker_and_stem(self, id: EntryId) -> tuple[str, str]:
        speaker, stem = self.names[id.source]
        return speaker, "_".join((stem, *(f"{index:0{PIECE_DIGITS}d}" for index in id.pieces)))

    def id_of(self, speaker: str, stem: str) -> EntryId | None:
        """The entry whose file is ``<speaker>/<stem>``: a source, or a piece of one (``<stem>_<digits>``)."""
        source = self._sources.get((speaker, stem))
        if source is not None:
            return EntryId(source)
        base, _, piece = stem.rpartition("_")
        source = self._sources.get((speaker, base))
        return EntryId(source, (int(piece),)) if source is not None and piece.isdigit() else None

    @cached_property
    def _sources(self) -> dict[tuple[str, str], str]:
        return {names: uid for uid, names in self.names.items()}

    def speakers(self) -> list[str]:
        return sorted({speaker for speaker, _ in self.names.values()})

    def to_json(self) -> dict[str, list[str]]:
        return {uid: list(value) for uid, value in self.names.items()}

    @classmethod
    def from_json(cls, data: dict) -> NameTable:
        return cls({str(uid): (str(v[0]), str(v[1])) for uid, v in data.items()})


class SpeakerDirNaming(Naming):
    """``<base>/<speaker>/<stem><the file's suffix><the codec's>`` (a piece: ``<stem>_<piece>``): the layout of the
    trainers that find speakers by folder (so-vits-svc and its fork, RIFT-SVC, Seed-VC)."""

    SUFFIXES: ClassVar[dict[str, str]] = {}  # file kind -> what follows the stem before the codec's suffix

    def __init__(self, table: NameTable, base: PurePosixPath = PurePosixPath()) -> None:
        self.table, self.base = table, base

    def relative_path(self, file: str, uid: EntryId, suffix: str) -> PurePosixPath:
        speaker, stem = self.table.speaker_and_stem(uid)
        return self.base / speaker / f"{stem}{self.SUFFIXES.get(file, '')}{suffix}"

    def uid_of(self, file: str, relative: PurePosixPath, suffix: str) -> EntryId | None:
        ending, depth = self.SUFFIXES.get(file, "") + suffix, len(self.base.parts)
        parts = relative.parts
        if len(parts) != depth + 2 or parts[:depth] != self.base.parts or not parts[-1].endswith(ending):
            return None
        return self.table.id_of(parts[-2], parts[-1][: -len(ending)])

    def listing_dirs(self, file: str) -> tuple[PurePosixPath, ...]:
        if self.base.parts:
            return (self.base,)
        return tuple(PurePosixPath(speaker) for speaker in self.table.speakers())


def name_table(corpus: Corpus, recipe: str) -> NameTable:
    """Speaker = the corpus singer (first path component of an audio dir, or a manifest's ``singer``); stem = the
    rest of the uid with ``/`` as ``_``."""
    names: dict[str, tuple[str, str]] = {}
    speakers: dict[str, str] = {}
    stems: dict[tuple[str, str], str] = {}
    for entry in corpus.entries:
        speaker = safe_name(entry.singer)
        if speakers.setdefault(speaker, entry.singer) != entry.singer:
            raise ConfigError(f"{recipe}: speakers {speakers[speaker]!r} and {entry.singer!r} share the folder name "
                              f"{speaker!r} once made safe for the trainer's paths; rename one", "corpus")
        rest = entry.uid[len(entry.singer) + 1:] if entry.uid.startswith(entry.singer + "/") else entry.uid
        stem = safe_name(rest.replace("/", "_"))
        clash = stems.setdefault((speaker, stem), entry.uid)
        if clash != entry.uid:
            raise ConfigError(f"{recipe}: {clash!r} and {entry.uid!r} would both be {speaker}/{stem}; rename one",
                              "corpus")
        names[entry.uid] = (speaker, stem)
    _refuse_piece_names(stems, recipe)
    return NameTable(names)


def _refuse_piece_names(stems: dict[tuple[str, str], str], recipe: str) -> None:
    """A source whose name is another source's piece name (``take_00001`` beside a sliced ``take``) would share
    its files: refused, found before anything runs."""
    for (speaker, stem), uid in stems.items():
        base, _, digits = stem.rpartition("_")
        other = stems.get((speaker, base))
        if other is not None and len(digits) == PIECE_DIGITS and digits.isdigit():
            raise ConfigError(f"{recipe}: {uid!r} is named like piece {int(digits)} of {other!r} once it is sliced "
                              f"({speaker}/{stem}); rename it", "corpus")


def ordered(uids: list[str], seed: int) -> list[str]:
    """A deterministic shuffle: the same order on every run, shard and machine."""
    return sorted(uids, key=lambda u: hashlib.sha256(f"{seed}:{u}".encode()).hexdigest())
