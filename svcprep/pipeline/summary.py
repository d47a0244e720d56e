"""What a run did: counts, failures, timings, and the exit code they imply."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[dict] = field(default_factory=list)  # the first few, for display
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    setup_seconds: float = 0.0  # model loading, batching
    model_seconds: float = 0.0  # inside the extractors' forward passes
    out: Path | None = None
    notes: list[str] = field(default_factory=list)  # e.g. the statistics written at the end
    model_clips: dict[str, int] = field(default_factory=dict)  # clips each model ran on (wherever it ran)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def describe(self) -> str:
        rate = self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0
        models = ", ".join(f"{name} {count}" for name, count in sorted(self.model_clips.items()))
        return (f"done {self.done}, skipped {self.skipped} (already done), failed {self.failed}; "
                f"{self.audio_seconds / 3600:.3f} h of audio in {self.wall_seconds:.1f} s ({rate:.1f}× real time)"
                + (f"\nmodels ran on (clips): {models}" if models else "")
                + "".join(f"\n{note}" for note in self.notes))
