"""Provenance (``meta.json``) and done-lists, so that reruns resume and never mix settings.

Done-lists are kept per settings: ``done/<key>/`` where ``key`` hashes the meta. A run with other settings
(after ``--overwrite``) therefore never counts a file made under the old ones as done, whichever shard made it.
Each line is one uid as a JSON string (pure ASCII: ``\\n``, U+2028 or ``\\x85`` in a uid cannot break a line);
a line cut by a kill fails to parse and is ignored.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from svcprep import __version__
from svcprep.errors import OutputConflictError
from svcprep.pipeline.layout import OutputLayout
from svcprep.pipeline.storage import append_line, atomic_write_text, read_lines

_NOT_COMPARED = ("svcprep_version",)


def settings_key(meta: dict[str, Any]) -> str:
    """A short stable hash of the compared settings."""
    compared = {k: v for k, v in meta.items() if k not in _NOT_COMPARED}
    return hashlib.sha256(json.dumps(compared, sort_keys=True).encode()).hexdigest()[:16]


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if k not in _NOT_COMPARED and old.get(k) != new.get(k))


def _conflict(output_dir: Path, old: dict[str, Any], new: dict[str, Any], differing: list[str]) -> OutputConflictError:
    details = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differing[:4])
    return OutputConflictError(
        f"{output_dir} holds outputs made with other settings ({details}); use another --out, "
        "or --overwrite to redo them"
    )


class DoneList:
    """uids finished under one setting. Each shard appends to its own file; every shard's file is read."""

    def __init__(self, directory: Path, shard_label: str) -> None:
        self.dir = directory
        self.path = directory / f"{shard_label}.txt"

    def load(self) -> set[str]:
        done: set[str] = set()
        if self.dir.is_dir():
            for path in self.dir.glob("*.txt"):
                for line in read_lines(path):
                    try:
                        uid = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(uid, str):
                        done.add(uid)
        return done

    def append(self, uid: str) -> None:
        append_line(self.path, json.dumps(uid, ensure_ascii=True))


def open_output(layout: OutputLayout, output: str, meta: dict[str, Any], *, overwrite: bool,
                shard_label: str) -> DoneList:
    """Check ``meta`` against the recorded one (refuse other settings unless ``overwrite``), record it, and
    return the done-list of these settings. svcprep 0.1 bookkeeping inside the output dir is taken over."""
    meta = {**meta, "svcprep_version": __version__}
    path = layout.meta_path(output)
    _take_over_legacy(layout, output, meta, overwrite)
    key = settings_key(meta)
    old = json.loads(path.read_text()) if path.is_file() else None
    if old is not None and _differences(old, meta):
        if not overwrite:
            raise _conflict(layout.output_dir(output), old, meta, _differences(old, meta))
        # Settings change: done entries once made under these settings predate the files now on disk.
        shutil.rmtree(layout.done_dir(output, key), ignore_errors=True)
    if old is None or _differences(old, meta):
        atomic_write_text(path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return DoneList(layout.done_dir(output, key), shard_label)


def read_meta(layout: OutputLayout, output: str) -> dict[str, Any] | None:
    for path in (layout.meta_path(output), layout.legacy_meta_path(output)):
        if path.is_file():
            return json.loads(path.read_text())
    return None


def _take_over_legacy(layout: OutputLayout, output: str, meta: dict[str, Any], overwrite: bool) -> None:
    """Move svcprep 0.1's ``OUT/<output>/_meta.json`` and ``_done/`` into the bookkeeping dir.

    0.1 recorded only the options a user gave; they are compared merged over today's resolved options.
    Other settings are refused as usual (``--overwrite`` drops the old bookkeeping).
    """
    legacy_meta, legacy_done = layout.legacy_meta_path(output), layout.legacy_done_dir(output)
    if not legacy_meta.is_file():
        return
    old = json.loads(legacy_meta.read_text())
    if "options" in old:
        old["options"] = {**meta.get("options", {}), **old["options"]}
    differing = _differences(old, meta)
    if differing and not overwrite:
        raise _conflict(layout.output_dir(output), old, meta, differing)
    if not differing and not layout.meta_path(output).is_file():
        target = layout.done_dir(output, settings_key(meta))
        for path in legacy_done.glob("*.txt") if legacy_done.is_dir() else ():
            uids = [line for line in path.read_text(encoding="utf-8").split("\n") if line]
            for uid in uids:
                append_line(target / path.name, json.dumps(uid, ensure_ascii=True))
        atomic_write_text(layout.meta_path(output), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(legacy_done, ignore_errors=True)
    legacy_meta.unlink()
