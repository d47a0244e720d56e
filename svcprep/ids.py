"""Entry ids: a corpus uid, and the index each splitting corpus stage gave an entry cut from it.

The text of an id (``str(id)``: the source uid, then ``/00003`` per split) names files and done entries. It is
formatted here and never parsed: code that needs the source or the piece reads them from the id, and ids are
found again from the corpus and the stage records, never from their text (a corpus uid may itself hold ``/``).
"""

from __future__ import annotations

from dataclasses import dataclass

PIECE_DIGITS = 5  # piece 3 of take u: "u/00003" (numbered before any piece is dropped, so ids never shift)


@dataclass(frozen=True, order=True)
class EntryId:
    """``source``: the corpus uid the entry descends from; ``pieces``: the index each splitting stage gave it."""

    source: str
    pieces: tuple[int, ...] = ()

    def __str__(self) -> str:
        return "/".join((self.source, *(f"{index:0{PIECE_DIGITS}d}" for index in self.pieces)))

    def piece(self, index: int) -> EntryId:
        """Piece ``index`` of this entry."""
        return EntryId(self.source, (*self.pieces, index))

    @property
    def index(self) -> int | None:
        """The index of the last split that made this entry (``None``: a whole corpus entry)."""
        return self.pieces[-1] if self.pieces else None
