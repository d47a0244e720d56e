"""``svcprep separate``: the separation stage alone, over a corpus, into one dir (the stems a run would write
beside its trees, in the same layout: a later ``svcprep run`` with the same steps and ``--out`` reuses them)."""

from __future__ import annotations

import time
from pathlib import Path

from svcprep.audio.io import seconds_or_zero
from svcprep.corpus.scan import load_corpus, shard_of, source_stamp
from svcprep.corpus.separation import SeparationChain, SeparationPass
from svcprep.errors import ConfigError
from svcprep.pipeline.device_defaults import check_device
from svcprep.pipeline.progress import Progress
from svcprep.pipeline.summary import RunSummary
from svcprep.store.bookkeeping import Bookkeeping


def run_separation(corpus: Path, out: Path, chain: SeparationChain, device: str = "auto",
                   precision: str = "float32", shard: tuple[int, int] = (0, 1), overwrite: bool = False) -> RunSummary:
    started = time.monotonic()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a dir; choose another --out", "out")
    check_device(device)
    scanned = load_corpus(corpus, outside=(out,))
    k, n = shard
    separation = SeparationPass(chain, out, f"shard-{k}-of-{n}", device, overwrite, precision)
    separation.check()
    failures = Bookkeeping(out).failures
    summary = RunSummary(out=out)

    def fail(uid: str, path: Path, stage: str, reason: str) -> None:
        failures.append({"uid": uid, "path": str(path), "stage": "separate", "reason": f"{stage}: {reason}"})
        summary.failed += 1

    for path, reason in scanned.rejected:
        fail(path, Path(path), "scan", reason)
    entries = [e for e in scanned.entries if n == 1 or shard_of(e.uid, n) == k]
    progress = Progress(sum(seconds_or_zero(e.path) for e in entries) * len(chain.steps))

    def advance(seconds: float) -> None:
        summary.audio_seconds += seconds
        progress.update(seconds)

    try:
        kept = separation.run(entries, {e.uid: source_stamp(e.path) for e in entries}, fail, advance)
    finally:
        progress.close()
    summary.done, summary.skipped = separation.separated, separation.skipped
    if n == 1 and not scanned.rejected:  # the whole corpus seen: stems of tracks it no longer has go
        removed = separation.prune({e.uid for e in scanned.entries})
        if removed:
            summary.notes.append(f"removed {removed} stem file(s) of tracks no longer in the corpus")
    last = chain.steps[-1]
    summary.notes.append(f"{len(kept)} track(s) separated by every step; what the next stage reads: "
                         f"{out / last.name / last.kept}/<uid>.wav")
    summary.wall_seconds = time.monotonic() - started
    return summary
