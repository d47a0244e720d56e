"""``svcprep report``: measure every clip of a corpus or an output tree in worker processes (one streaming read
each, a bounded number of files in flight), then write ``report.json`` and ``report.html`` atomically.

A file that cannot be measured is listed under ``failures`` with its path and reason; the others go on.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from svcprep.audio.stream import stream_info
from svcprep.errors import ConfigError, SvcprepError
from svcprep.fileio import atomic_write_text
from svcprep.pipeline.progress import Progress
from svcprep.report.clip_pass import ClipMeasures, PassSettings, measure_clip
from svcprep.report.dnsmos import require_dnsmos
from svcprep.report.f0_range import require_tracker
from svcprep.report.flags import TRAINERS, Thresholds, trainer_limits
from svcprep.report.html import render_page
from svcprep.report.sources import ReportClip, open_source
from svcprep.report.summary import Collected, build_report

# What measuring one file may raise without the report stopping (the file is listed as failed).
FILE_ERRORS = (SvcprepError, OSError, ValueError, RuntimeError, ArithmeticError, MemoryError)
IN_FLIGHT_PER_WORKER = 4


@dataclass
class ReportSummary:
    out: Path
    clips: int = 0
    failed: int = 0
    flag_counts: dict[str, int] = field(default_factory=dict)
    failing_flags: dict[str, int] = field(default_factory=dict)  # --fail-on flags that occurred

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.failing_flags else 0

    def describe(self) -> str:
        flagged = ", ".join(f"{name} {count}" for name, count in self.flag_counts.items() if count) or "none"
        lines = [f"report: {self.clips} clip(s) measured, {self.failed} failed; flags: {flagged}",
                 f"wrote {self.out / 'report.json'} and {self.out / 'report.html'}"]
        if self.failing_flags:
            lines.append("--fail-on: " + ", ".join(f"{k} ({v} clip(s))" for k, v in self.failing_flags.items()))
        return "\n".join(lines)


_progress_queue: Any = None  # in a worker: where it reports the seconds it has read


def _worker_init(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue


def _measure(path: Path, settings: PassSettings,
             on_block: Callable[[float], None] | None = None) -> tuple[ClipMeasures | None, str | None]:
    if on_block is None and _progress_queue is not None:
        on_block = _progress_queue.put
    try:
        return measure_clip(path, settings, on_block), None
    except FILE_ERRORS as exc:
        return None, str(exc) or type(exc).__name__


def _measure_alone(path: Path, settings: PassSettings) -> tuple[ClipMeasures | None, str | None]:
    """In a process of its own, so that a file that kills its reader is reported rather than fatal."""
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(_measure, path, settings).result()
    except BrokenProcessPool:
        return None, "the process reading it died (out of memory, or killed)"


def _available_cpus() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _default_workers() -> int:
    return min(_available_cpus(), 8)


def check_writable(out: Path) -> None:
    """``out`` (or the dir it will be made in) takes a file: found before any audio is measured, not after."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write to {existing} ({exc.strerror or exc}); choose another --out", "out") from exc


def measure_all(clips: list[ReportClip], settings: PassSettings, workers: int,
                progress: Progress) -> tuple[Collected, list[dict[str, str]]]:
    """Every clip measured (``workers`` processes; 0: in this process), with a bounded number in flight."""
    results, failures = Collected(), []

    def collect(clip: ReportClip, measures: ClipMeasures | None, reason: str | None) -> None:
        if measures is None:
            failures.append({"uid": clip.uid, "path": str(clip.path), "stage": "report", "reason": reason})
        else:
            results.add(clip, measures)

    if workers == 0:
        for clip in clips:
            collect(clip, *_measure(clip.path, settings, progress.update))
        return results, failures
    context = get_context("spawn")
    queue = context.SimpleQueue()  # seconds read, from every worker: the bar moves within long files

    def drain() -> None:
        while not queue.empty():
            progress.update(queue.get())

    pending = iter(clips)
    while True:  # a pool per try: a worker that dies (killed, out of memory) costs the files it held, not the run
        running: dict[Future, ReportClip] = {}
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init,
                                     initargs=(queue,)) as pool:
                while True:
                    while len(running) < workers * IN_FLIGHT_PER_WORKER:
                        clip = next(pending, None)
                        if clip is None:
                            break
                        running[pool.submit(_measure, clip.path, settings)] = clip
                    if not running:
                        drain()
                        return results, failures
                    done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                    drain()
                    for future in done:
                        result = future.result()  # BrokenProcessPool when a worker died
                        collect(running.pop(future), *result)
        except BrokenProcessPool:
            # The file that killed its worker is among those in flight: each is measured again alone, so that it
            # alone is reported and the others are kept.
            for future, clip in running.items():
                if future.done() and future.exception() is None:
                    collect(clip, *future.result())
                else:
                    collect(clip, *_measure_alone(clip.path, settings))


def _total_seconds(clips: list[ReportClip]) -> float:
    total = 0.0
    for clip in clips:
        try:
            num_samples, sample_rate, _ = stream_info(clip.path)
        except SvcprepError:
            continue  # reported when it is measured
        total += num_samples / sample_rate
    return total


def write_report(path: Path, out: Path, *, thresholds: Thresholds, trainer: str | None = None,
                 with_pitch: bool = True, with_dnsmos: bool = False, fail_on: tuple[str, ...] = (),
                 workers: int | None = None, max_players: int = 60) -> ReportSummary:
    """Measure ``path`` (a corpus or an output tree) and write ``out/report.json`` and ``out/report.html``."""
    source = open_source(path)
    limits = trainer_limits(trainer or (source.trainer if source.trainer in TRAINERS else None) or "any")
    if with_pitch:
        require_tracker()
    if with_dnsmos:
        require_dnsmos()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a dir", "out")
    check_writable(out)
    workers = _default_workers() if workers is None else min(workers, _available_cpus())
    thresholds = thresholds.with_trainer(limits)
    settings = PassSettings(thresholds.clip_level, thresholds.silence_dbfs, with_pitch, with_dnsmos)
    clips = list(source.clips)
    progress = Progress(_total_seconds(clips))
    try:
        results, failures = measure_all(clips, settings, workers, progress)
    finally:
        progress.close()
    failures = [{"uid": p, "path": p, "stage": "scan", "reason": r} for p, r in source.rejected] + failures
    report = build_report(source, results, failures, thresholds, limits, with_pitch, with_dnsmos)
    measured = len(results.rows)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "report.json", json.dumps(report, indent=1, allow_nan=False) + "\n")
        atomic_write_text(out / "report.html", render_page(report, max_players=max_players))
    except OSError as exc:
        raise SvcprepError(f"cannot write the report to {out} ({exc.strerror or exc}); free space there or "
                           "choose another --out") from exc
    counts = report["totals"]["flags"]
    return ReportSummary(out, measured, len(failures), counts,
                         {name: counts[name] for name in fail_on if counts.get(name)})
