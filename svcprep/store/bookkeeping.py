"""A root's bookkeeping: what made its files, what is finished, what failed. It lives apart from the files a
trainer reads, so that a dir holds exactly the files its trainer expects::

    ROOT/_failures.jsonl                           one record per (uid, stage, output): path, reason
    ROOT/.svcprep/<output>/meta.json               the OutputRecord the files were made with
    ROOT/.svcprep/<output>/done/<key>/<shard>.txt  uids finished under settings ``key`` (+ sha256 per file)
    ROOT/.svcprep/recipe.json                      which recipe wrote the root, and what names its files
    ROOT/.svcprep/dataset-files.json               sha256 of each dataset-level file as written
    ROOT/.svcprep/tmp/                             temp files of atomic writes (same filesystem as the root)

It stays on the local filesystem whatever the sink (files here, shards or an object store elsewhere).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from svcprep.errors import OutputConflictError, StorageError
from svcprep.fileio import BOOKKEEPING_DIR, FAILURE_LOG, append_line, atomic_write_text, locked, read_lines
from svcprep.outputs.records import DoneEntry, OutputRecord, RecordError

BOOKKEEPING = BOOKKEEPING_DIR


class SettingsChangedError(StorageError):
    """Another process recorded other settings for an output while this run was writing it."""


class Bookkeeping:
    """Output records, done-lists per settings and shard, the failure log, the recipe record and the hashes of
    dataset-level files, for the output root ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / BOOKKEEPING
        self.failures = FailureLog(self.root / FAILURE_LOG, self.dir / "failures.lock")

    @property
    def corpus_path(self) -> Path:
        return self.dir / "corpus.txt"

    def write_corpus(self, uids: list[str]) -> None:
        """The corpus uids of the run that last wrote this root (``verify`` tells current entries from gone ones)."""
        atomic_write_text(self.corpus_path, "".join(uid + "\n" for uid in uids), self.temp_dir)

    def read_corpus(self) -> set[str] | None:
        """The uids :meth:`write_corpus` recorded (``None``: a root written before it was recorded)."""
        return set(read_lines(self.corpus_path)) if self.corpus_path.is_file() else None

    @property
    def temp_dir(self) -> Path:
        return self.dir / "tmp"

    def record_path(self, output: str) -> Path:
        return self.dir / output / "meta.json"

    def done_dir(self, output: str, key: str) -> Path:
        return self.dir / output / "done" / key

    def read_record(self, output: str) -> OutputRecord | None:
        path = self.record_path(output)
        if not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordError(f"{path}: unreadable ({exc}); delete it and rerun with --overwrite") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "kind" not in data and "svcprep_version" in data:
            raise RecordError(f"{self.root / output} was made by an older svcprep (its record has no kind); "
                              "rerun with --overwrite to redo it, or use another --out")
        return OutputRecord.from_json(text, str(path))

    def write_record(self, record: OutputRecord) -> None:
        atomic_write_text(self.record_path(record.output), record.to_json(), self.temp_dir)

    def recorded_outputs(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.dir.glob("*/meta.json"))

    @property
    def recipe_record_path(self) -> Path:
        return self.dir / "recipe.json"

    def read_recipe_record(self) -> dict[str, Any] | None:
        """Which recipe wrote this root, what it needs to name its files, and the outputs it made."""
        path = self.recipe_record_path
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RecordError(f"{path}: not an svcprep record ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("recipe"), str):
            raise RecordError(f"{path}: not an svcprep record (no recipe)")
        return data

    def write_recipe_record(self, data: dict[str, Any]) -> None:
        """Record ``data``; the outputs of earlier runs of the same recipe into this root are kept listed."""
        with locked(self.dir / "recipe.lock"):
            try:
                old = self.read_recipe_record()
            except RecordError:
                old = None
            outputs = list(data.get("outputs", []))
            if old is not None and old.get("recipe") == data.get("recipe"):
                outputs = sorted(set(outputs) | set(old.get("outputs", [])))
            atomic_write_text(self.recipe_record_path, json.dumps({**data, "outputs": outputs}, indent=2,
                                                                  sort_keys=True) + "\n", self.temp_dir)

    def check_output(self, record: OutputRecord, *, overwrite: bool) -> OutputRecord | None:
        """Refuse other settings (unless ``overwrite``) before anything is written; returns the recorded one."""
        try:
            old = self.read_record(record.output)
        except RecordError:
            if overwrite:
                return None
            raise
        if old is not None and old.differences(record) and not overwrite:
            moved = layout_change(old.to_dict(), record.to_dict())
            if moved:
                raise OutputConflictError(f"{self.root}: the corpus changed since this tree was written ({moved}), "
                                          "and the trainer's names or speaker ids depend on the whole corpus: files "
                                          "already written would move; rerun with --overwrite to rebuild the tree")
            details = "; ".join(changes(old.to_dict(), record.to_dict())[:4])
            raise OutputConflictError(f"{self.root / record.output} holds outputs made with other settings "
                                      f"({details}); use another --out, or --overwrite to redo them")
        return old

    def commit_output(self, record: OutputRecord, old: OutputRecord | None) -> None:
        """Record ``record`` (after the models loaded): done entries once made under these settings predate the
        files now on disk when the settings changed in between, so they are dropped."""
        if old is None or old.differences(record):
            shutil.rmtree(self.done_dir(record.output, record.key), ignore_errors=True)
            self.write_record(record)

    def done_list(self, record: OutputRecord, shard_label: str) -> DoneList:
        return DoneList(self.done_dir(record.output, record.key), shard_label, self.record_path(record.output),
                        record.key)

    @property
    def dataset_files_path(self) -> Path:
        return self.dir / "dataset-files.json"

    def dataset_file_hashes(self) -> dict[str, str]:
        """sha256 of every dataset-level file as svcprep wrote it (``verify`` compares them)."""
        try:
            data = json.loads(self.dataset_files_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def remember_dataset_file(self, name: str, digest: str) -> None:
        """Record the sha256 of a dataset-level file the sink just wrote."""
        with locked(self.dir / "dataset-files.lock"):
            hashes = self.dataset_file_hashes()
            hashes[name] = digest
            atomic_write_text(self.dataset_files_path, json.dumps(hashes, indent=1, sort_keys=True) + "\n",
                              self.temp_dir)


class DoneList:
    """uids finished under one setting. Each shard appends to its own file; every shard's file is read.

    Before each append the recorded settings are checked again: a run that finds them changed by another
    process (``--overwrite`` with other settings on another shard) stops instead of marking old-setting files
    as done.
    """

    def __init__(self, directory: Path, shard_label: str, record_path: Path | None = None, key: str = "") -> None:
        self.dir = directory
        self.path = directory / f"{shard_label}.txt"
        self._record_path, self._key = record_path, key
        self._seen: tuple[int, int] | None = None
        self.bad_lines = 0

    def load(self) -> dict[str, DoneEntry]:
        done: dict[str, DoneEntry] = {}
        self.bad_lines = 0  # complete lines that are not done entries (a cut last line is not counted)
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.txt")):
                for line in read_lines(path):
                    entry = DoneEntry.from_line(line)
                    if entry is not None:
                        done[entry.uid] = entry
                    else:
                        self.bad_lines += 1
        return done

    def append(self, entry: DoneEntry) -> None:
        self._check_settings()
        append_line(self.path, entry.to_line())

    def _check_settings(self) -> None:
        if self._record_path is None:
            return
        try:
            stat = self._record_path.stat()
        except FileNotFoundError:
            raise SettingsChangedError(f"{self._record_path} disappeared while this run wrote "
                                       f"{self._record_path.parent.name}; rerun to resume") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._seen:
            return
        try:
            record = OutputRecord.from_json(self._record_path.read_text(encoding="utf-8"), str(self._record_path))
        except (OSError, RecordError) as exc:
            raise SettingsChangedError(f"{self._record_path}: {exc}") from exc
        if record.key != self._key:
            raise SettingsChangedError(
                f"another run recorded other settings for {self._record_path.parent.name} while this one was "
                "writing it (--overwrite on another shard?); this run stops so that no file of the old settings is "
                "marked done. Rerun with the settings now recorded, or with --overwrite")
        self._seen = stamp


class FailureLog:
    """``_failures.jsonl``: one record per (uid, stage, output), the latest reason winning.

    Records are appended as they happen (a killed run keeps them), under a lock shared by concurrent shards;
    :meth:`compact` rewrites the file under the same lock, dropping what ``resolved(record)`` says succeeded.
    """

    def __init__(self, path: Path, lock_path: Path | None = None) -> None:
        self.path = path
        if lock_path is None:  # keep the log's own dir free of extra files (it may be a feature dir)
            import hashlib
            import tempfile

            digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
            lock_path = Path(tempfile.gettempdir()) / f"svcprep-failures-{digest}.lock"
        self.lock_path = lock_path

    @staticmethod
    def key(record: dict[str, Any]) -> tuple:
        return record.get("uid"), record.get("stage"), record.get("output")

    def append(self, record: dict[str, Any]) -> None:
        with locked(self.lock_path):
            append_line(self.path, json.dumps(record, ensure_ascii=True))

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        latest: dict[tuple, dict[str, Any]] = {}
        for line in read_lines(self.path):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                latest.pop(self.key(record), None)  # re-insert: order follows the latest occurrence
                latest[self.key(record)] = record
        return list(latest.values())

    def compact(self, resolved: Callable[[dict[str, Any]], bool]) -> None:
        """Keep the latest record per key, dropping those for which ``resolved(record)`` is true."""
        with locked(self.lock_path):
            if not self.path.is_file():
                return
            kept = [r for r in self.records() if not resolved(r)]
            if not kept:
                self.path.unlink()
                return
            atomic_write_text(self.path, "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in kept))


def layout_change(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """What changed in a record's layout of the whole corpus (``settings.layout``: the names or ids a recipe gives
    from the whole corpus), when nothing else changed; ``None`` otherwise."""
    old_settings, new_settings = dict(old.get("settings") or {}), dict(new.get("settings") or {})
    old_layout, new_layout = old_settings.pop("layout", None), new_settings.pop("layout", None)
    rest_old = {**old, "settings": old_settings, "svcprep_version": None}
    rest_new = {**new, "settings": new_settings, "svcprep_version": None}
    if old_layout == new_layout or rest_old != rest_new or not isinstance(old_layout, dict) \
            or not isinstance(new_layout, dict):
        return None
    parts = []
    for key in sorted(set(old_layout) | set(new_layout)):
        before, after = old_layout.get(key), new_layout.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
            renamed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
            for label, items in (("added", added), ("removed", removed), ("renumbered", renamed)):
                if items:
                    shown = ", ".join(repr(i) for i in items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3
                                                                     else "")
                    parts.append(f"{key}: {label} {shown}")
        else:
            parts.append(f"{key} changed")
    return "; ".join(parts) or None


def changes(old: Any, new: Any, where: str = "") -> list[str]:
    """``key.sub: old -> new`` for each leaf value that differs (the svcprep version aside), for messages."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new) - {"svcprep_version"}, key=str)
        return [c for k in keys if old.get(k) != new.get(k) for c in changes(old.get(k), new.get(k),
                                                                              f"{where}.{k}" if where else str(k))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b
                for c in changes(a, b, f"{where}[{i}]")]

    def short(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    return [f"{where}: {short(old)} -> {short(new)}"]
