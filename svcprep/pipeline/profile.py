"""Where a run's wall time went (``--profile``): stages timed in the main process, in the writer thread and,
summed over clips, in the decode workers (those overlap the main process when workers run)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

MAIN_STAGES = ("scan", "model load", "waiting for input", "model", "align", "hand-off to writer")
WORKER_STAGES = ("decode", "resample", "mel", "pitch")


class StageTimes:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def add(self, timings: dict[str, float]) -> None:
        for name, seconds in timings.items():
            self.seconds[name] += seconds

    def describe(self, wall_seconds: float, in_workers: bool) -> str:
        def line(name: str) -> str:
            seconds = self.seconds.get(name, 0.0)
            return f"profile: {name:<20} {seconds:8.2f} s  {100 * seconds / max(wall_seconds, 1e-9):5.1f}% of wall"

        where = "decode workers (run beside the main process)" if in_workers else "main process (no workers)"
        lines = [f"profile: wall {wall_seconds:.2f} s; main process:"]
        lines += [line(name) for name in MAIN_STAGES]
        lines.append("profile: writer thread (beside the main process):")
        lines.append(line("write"))
        lines.append(f"profile: {where}:")
        lines += [line(name) for name in WORKER_STAGES]
        return "\n".join(lines)
