"""Per-feature provenance (``_meta.json``) and per-shard done-lists, so reruns resume and never mix settings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from svcprep import __version__
from svcprep.errors import OutputConflictError
from svcprep.storage import atomic_write_text

_NOT_COMPARED = ("svcprep_version",)


def check_or_write_meta(feature_dir: Path, meta: dict[str, Any], overwrite: bool) -> None:
    """Write ``_meta.json``; if one exists with other settings, refuse (unless ``overwrite``)."""
    meta = {**meta, "svcprep_version": __version__}
    path = feature_dir / "_meta.json"
    if path.is_file() and not overwrite:
        old = json.loads(path.read_text())
        differing = sorted(k for k in set(old) | set(meta)
                           if k not in _NOT_COMPARED and old.get(k) != meta.get(k))
        if differing:
            details = "; ".join(f"{k}: {old.get(k)!r} -> {meta.get(k)!r}" for k in differing[:4])
            raise OutputConflictError(
                f"{feature_dir} holds outputs made with other settings ({details}); use another --out, "
                "or --overwrite to redo them"
            )
        return
    atomic_write_text(path, json.dumps(meta, indent=2, sort_keys=True) + "\n")


class DoneList:
    """uids finished for one feature. Each shard appends to its own file; all shards' files are read."""

    def __init__(self, feature_dir: Path, shard_label: str) -> None:
        self.dir = feature_dir / "_done"
        self.path = self.dir / f"{shard_label}.txt"

    def load(self) -> set[str]:
        done: set[str] = set()
        if self.dir.is_dir():
            for path in self.dir.glob("*.txt"):
                done.update(line for line in path.read_text(encoding="utf-8").splitlines() if line)
        return done

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)

    def append(self, uid: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(uid + "\n")
            f.flush()
            os.fsync(f.fileno())
