"""Timing helpers for the benchmarks: best-of-N wall time, and a markdown results table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def best_seconds(func: Callable[[], object], repeats: int = 7, min_seconds: float = 0.0) -> float:
    """Best wall time of ``func`` over ``repeats`` runs (after one warm-up run)."""
    func()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return max(best, min_seconds)


def write_table(name: str, header: list[str], rows: list[list[str]], notes: list[str]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(lines + [""] + notes) + "\n"
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text)
    print(text)
    return path
