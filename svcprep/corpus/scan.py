"""Corpus inputs: a directory of audio, an Amphion dataset dir, or a JSONL/CSV manifest."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from svcprep.audio.io import AUDIO_EXTENSIONS
from svcprep.errors import ConfigError
from svcprep.fileio import OWN_NAMES
from svcprep.store.bookkeeping import BOOKKEEPING


@dataclass(frozen=True)
class CorpusEntry:
    """``dataset`` and ``singer`` name Amphion's keys (``"<dataset>_<singer>"``): from the Amphion json; for an
    audio dir, the dir's name and the uid's first path component; for a manifest, its optional columns."""

    uid: str
    path: Path
    singer: str = ""
    dataset: str = ""


@dataclass(frozen=True)
class Corpus:
    kind: str  # "directory" | "amphion" | "manifest"
    root: Path
    entries: tuple[CorpusEntry, ...]
    rejected: tuple[tuple[str, str], ...] = ()  # (path, reason): found but unusable; reported as failures

    @property
    def default_out(self) -> Path | None:
        """Amphion dataset dirs take their outputs beside their own ``mels/``."""
        return self.root if self.kind == "amphion" else None


_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00]")


def check_uid(uid: object, source: str) -> str:
    """A uid becomes a relative output path: a non-empty string that is not absolute, does not climb out with
    ``..`` and holds no line break of any kind (``\\n``, U+2028, ``\\x85``, ...) or NUL."""
    if not isinstance(uid, str | int) or isinstance(uid, bool):
        raise ConfigError(f"{source}: uid {uid!r} must be a string")
    text = str(uid).replace("\\", "/")
    parts = text.split("/")
    if _LINE_BREAKS.search(text):
        raise ConfigError(f"{source}: uid {uid!r} contains a line break or NUL; rename it")
    if not text or text.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(f"{source}: uid {uid!r} would escape the output directory; use a plain relative name")
    if any(p in OWN_NAMES for p in parts):
        raise ConfigError(f"{source}: uid {uid!r} names svcprep's own bookkeeping ({', '.join(sorted(OWN_NAMES))}); "
                          "rename it")
    return text


def _audio_path(value: object, base: Path, source: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: audio path must be a non-empty string, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def shard_of(uid: str, num_shards: int) -> int:
    """Stable shard of a uid (sha1, not Python's randomised hash)."""
    return int.from_bytes(hashlib.sha1(uid.encode("utf-8")).digest()[:8], "big") % num_shards


def printable(path: Path | str) -> str:
    """A path as text even when its bytes are not UTF-8 (undecodable bytes shown as ``\\xNN``)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _from_directory(root: Path, outside: tuple[Path, ...] = ()) -> tuple[list[CorpusEntry], list[tuple[str, str]]]:
    """Audio files below ``root``; unreadable dirs, names that are not UTF-8 and non-regular files are rejected
    (reported, never silently skipped). A broken symlink is kept: it fails at decode and is reported. The dirs in
    ``outside`` (this run's output dir) and every svcprep output root below ``root`` (a dir with svcprep's
    bookkeeping) are left out: outputs are never read back as audio."""
    entries, rejected = [], []
    left_out = {os.path.realpath(path) for path in outside}

    def unreadable(error: OSError) -> None:
        rejected.append((printable(error.filename or root), f"unreadable directory ({error.strerror}); its files "
                                                           "are not in the corpus"))

    seen: set[str] = set()
    for directory, dirs, files in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:  # a symlink cycle, or the same dir linked twice
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if os.path.realpath(os.path.join(directory, d)) not in left_out
                         and not os.path.isdir(os.path.join(directory, d, BOOKKEEPING)))
        for name in sorted(files):
            path = Path(directory) / name
            if path.suffix.lower() not in AUDIO_EXTENSIONS or name.startswith("."):
                continue
            relative = path.relative_to(root).with_suffix("").as_posix()
            try:
                os.fsencode(relative).decode("utf-8")
            except UnicodeDecodeError:
                rejected.append((printable(path), "file name is not valid UTF-8; rename the file"))
                continue
            if path.exists() and not path.is_file():
                rejected.append((printable(path), "not a regular file (a FIFO or device)"))
                continue
            uid = check_uid(relative, str(root))
            singer = uid.split("/", 1)[0] if "/" in uid else root.name
            entries.append(CorpusEntry(uid, path, singer, root.name))
    return entries, rejected


def _from_amphion(root: Path) -> list[CorpusEntry]:
    entries = []
    for split in ("train.json", "test.json"):
        path = root / split
        if not path.is_file():
            continue
        try:
            items = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: invalid JSON ({exc})") from exc
        if not isinstance(items, list):
            raise ConfigError(f"{path}: expected a list of utterances")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "Uid" not in item or "Path" not in item:
                raise ConfigError(f"{path}: entry {i} lacks 'Uid' or 'Path'")
            source = f"{path}: entry {i}"
            entries.append(CorpusEntry(check_uid(item["Uid"], source), _audio_path(item["Path"], root, source),
                                       str(item.get("Singer", root.name)), str(item.get("Dataset", root.name))))
    return entries


def _from_manifest(path: Path) -> list[CorpusEntry]:
    rows: list[dict] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{n}: invalid JSON ({exc})") from exc
    else:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets write a BOM
            rows = list(csv.DictReader(f))
    entries = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not row.get("uid") or not row.get("path"):
            raise ConfigError(f"{path}: row {n} needs 'uid' and 'path'")
        source = f"{path}:{n}"
        entries.append(CorpusEntry(check_uid(row["uid"], source), _audio_path(row["path"], path.parent, source),
                                   str(row.get("singer") or path.stem), str(row.get("dataset") or path.stem)))
    return entries


def load_corpus(source: Path, outside: tuple[Path, ...] = ()) -> Corpus:
    """Recognise the corpus kind: a ``.jsonl``/``.csv`` manifest, a dir with ``train.json``/``test.json``
    (Amphion), or any other dir (audio files, recursive; the dirs in ``outside`` and svcprep output roots left
    out)."""
    rejected: list[tuple[str, str]] = []
    if source.is_file() and source.suffix in (".jsonl", ".csv"):
        kind, entries = "manifest", _from_manifest(source)
    elif source.is_dir() and ((source / "train.json").is_file() or (source / "test.json").is_file()):
        kind, entries = "amphion", _from_amphion(source)
    elif source.is_dir():
        kind = "directory"
        entries, rejected = _from_directory(source, outside)
    else:
        raise ConfigError(
            f"corpus {source}: expected an audio directory, an Amphion dataset dir or a .jsonl/.csv manifest")
    seen: dict[str, Path] = {}
    for entry in entries:
        if entry.uid in seen:
            raise ConfigError(f"corpus {source}: uid {entry.uid!r} appears twice ({seen[entry.uid]} and {entry.path})")
        seen[entry.uid] = entry.path
    if not entries:
        raise ConfigError(f"corpus {source}: no audio found" + (f" ({rejected[0][0]}: {rejected[0][1]})"
                                                                if rejected else ""))
    return Corpus(kind, source, tuple(entries), tuple(rejected))


def source_stamp(path: Path) -> str | None:
    """``size:mtime_ns`` of a source file (``None`` when it cannot be read): what a done entry was made from."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}"
