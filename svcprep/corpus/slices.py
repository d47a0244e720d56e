"""Which pieces each take was cut into, per slicing settings: a rerun knows a take is finished without decoding it.

``OUT/.svcprep/slices/<key>/<shard>.txt``: one JSON line per take, ``{"take": uid, "pieces": [[piece uid, start,
end], ...]}`` (samples at the slicing rate).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from svcprep.fileio import append_line, read_lines
from svcprep.store.bookkeeping import BOOKKEEPING


class SliceRecords:
    def __init__(self, out: Path, settings, shard_label: str) -> None:
        key = hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
        self.dir = Path(out) / BOOKKEEPING / "slices" / key
        self.path = self.dir / f"{shard_label}.txt"

    def load(self) -> dict[str, list[str]]:
        """take uid -> its piece uids."""
        return {take: [p[0] for p in pieces] for take, pieces in self.spans().items()}

    def spans(self) -> dict[str, list[tuple[str, int, int]]]:
        """take uid -> its pieces ``(uid, start, end)``."""
        takes: dict[str, list[tuple[str, int, int]]] = {}
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.txt")):
                for line in read_lines(path):
                    try:
                        data = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(data, dict) and isinstance(data.get("take"), str) and isinstance(data.get("pieces"),
                                                                                                   list):
                        takes[data["take"]] = [(str(p[0]), int(p[1]), int(p[2])) for p in data["pieces"]]
        return takes

    def append(self, take: str, pieces: list[tuple[str, int, int]]) -> None:
        append_line(self.path, json.dumps({"take": take, "pieces": [list(p) for p in pieces]}, ensure_ascii=True))
