"""``svcprep slice``: the pieces of long takes as float WAVs with a manifest every svcprep command reads::

    OUT/pieces/<take uid>/<k>.wav      mono float32 at the slicing rate (the take's own rate by default)
    OUT/pieces.jsonl                   uid, path (relative), singer, dataset, source, start, end (samples)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from svcprep.audio.views import SLICED
from svcprep.errors import ConfigError
from svcprep.outputs.base import AudioRequest
from svcprep.outputs.stored_audio import StoredAudio
from svcprep.recipes.base import Recipe, RecipeContext

NAME, MANIFEST = "pieces", "pieces.jsonl"


@dataclass(frozen=True)
class PiecesRecipe(Recipe):
    name = NAME
    sample_rate: int | None = None

    def check(self, ctx: RecipeContext) -> None:
        if ctx.stages is None:
            raise ConfigError("svcprep slice needs slicing settings", "slice")

    def outputs(self, ctx: RecipeContext) -> list:
        return [StoredAudio("pieces", AudioRequest(self.sample_rate, view=SLICED), "wav_float32")]

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        done = ctx.done_uids(outputs)
        rows = []
        for entry in sorted((ctx.entries[uid] for uid in done), key=lambda e: (e.id.source, e.id.pieces)):
            source, span = entry.source, entry.span
            rows.append({"uid": entry.uid, "path": tree.sink.location(outputs[0].files[0], entry.id, relative=True),
                         "singer": source.singer, "dataset": source.dataset, "source": str(source.path),
                         "start": span.start if span else 0, "end": span.end if span else None})
        tree.write_text(MANIFEST, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return [f"{len(rows)} pieces listed in {tree.sink.dataset_location(MANIFEST)} (a corpus for every svcprep "
                "command)"]
