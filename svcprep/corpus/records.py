"""Which entries each corpus entry became under one chain of stages: a rerun knows a take is finished (and which
pieces it has) without decoding it, and recipes and ``verify`` find every piece's id and span without reading its
text. Kept in every output root of the run::

    ROOT/.svcprep/stages/<chain key>/stages.json  the stages and their settings, in order (the key's preimage)
    ROOT/.svcprep/stages/<chain key>/<shard>.txt   one JSON line per corpus entry:
        {"source": uid, "stamp": "size:mtime", "entries": [[[piece index, ...], start, end, sample rate], ...]}
        (start = null: not split; the stamp is the source file's when it was cut: a replaced file is cut again)
"""

from __future__ import annotations

import json

from svcprep.corpus.entries import Span
from svcprep.fileio import append_line, atomic_write_text, read_lines
from svcprep.ids import EntryId
from svcprep.store.bookkeeping import Bookkeeping

Leaves = list[tuple[EntryId, Span | None]]


class StageRecords:
    def __init__(self, bookkeeping: Bookkeeping, chain_key: str, shard_label: str) -> None:
        self.dir = bookkeeping.dir / "stages" / chain_key
        self.path = self.dir / f"{shard_label}.txt"

    def write_settings(self, settings: list[dict]) -> None:
        """What made these records (each stage's name and settings), beside them: an entry's provenance is its
        source uid and piece indices (its id), its span (the records) and these."""
        path = self.dir / "stages.json"
        if not path.is_file():
            atomic_write_text(path, json.dumps(settings, indent=1, sort_keys=True) + "\n")

    def load(self) -> dict[str, Leaves]:
        """source uid -> the entries it became, with their spans."""
        return {source: leaves for source, (_, leaves) in self.load_stamped().items()}

    def load_stamped(self) -> dict[str, tuple[str | None, Leaves]]:
        """source uid -> (the source file's stamp when it was cut, the entries it became)."""
        sources: dict[str, tuple[str | None, Leaves]] = {}
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.txt")):
                for line in read_lines(path):
                    parsed = _parse(line)
                    if parsed is not None:
                        sources[parsed[0]] = parsed[1:]
        return sources

    def append(self, source: str, leaves: Leaves, stamp: str | None = None) -> None:
        rows = [[list(leaf.pieces), *((span.start, span.end, span.sample_rate) if span else (None, None, None))]
                for leaf, span in leaves]
        append_line(self.path, json.dumps({"source": source, "stamp": stamp, "entries": rows}, ensure_ascii=True))


def _parse(line: str) -> tuple[str, str | None, Leaves] | None:
    """A record line, or ``None`` for a line that is not one (a cut last line, an edit)."""
    try:
        data = json.loads(line)
        source = data["source"]
        leaves: Leaves = []
        for pieces, start, end, rate in data["entries"]:
            span = None if start is None else Span(int(start), int(end), int(rate))
            leaves.append((EntryId(str(source), tuple(int(p) for p in pieces)), span))
    except (ValueError, TypeError, KeyError):
        return None
    stamp = data.get("stamp")
    return (source, stamp if isinstance(stamp, str) else None, leaves) if isinstance(source, str) else None
