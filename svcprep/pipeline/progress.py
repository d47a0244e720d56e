"""Progress over seconds of audio: a bar on a terminal, a line every half minute in a log."""

from __future__ import annotations

import sys
import time


class Progress:
    """tqdm over seconds of audio on a TTY, periodic log lines otherwise."""

    def __init__(self, total_seconds: float, interval_seconds: float = 30.0) -> None:
        self.total, self.seen, self.start, self.last_log = total_seconds, 0.0, time.monotonic(), time.monotonic()
        self.interval = interval_seconds
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=round(total_seconds, 1), unit="s audio", unit_scale=True, dynamic_ncols=True)

    def update(self, seconds: float) -> None:
        self.seen += seconds
        if self.bar is not None:
            self.bar.update(round(seconds, 1))
        elif time.monotonic() - self.last_log >= self.interval:
            self.last_log = time.monotonic()
            elapsed = self.last_log - self.start
            print(f"progress: {self.seen:.0f}/{self.total:.0f} s of audio, {self.seen / elapsed:.1f}× real time",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
