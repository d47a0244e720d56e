"""Runs the svcprep CLI and kills the process (``os._exit``, as a power cut would) at one fixed point.

``python -m tests.crash_driver POINT N ARGS...``: the N-th time POINT is reached the process dies with
:data:`CRASH_EXIT_CODE`, leaving whatever the disk holds at that instant.

Points: ``after-model`` (the N-th model batch returned; its results never reach the writer), ``mid-write``
(the N-th file half written to its temp file), ``before-append`` (the N-th uid's files complete, its done-list
line not yet written), ``after-append`` (the N-th done-list line written).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

CRASH_EXIT_CODE = 86
POINTS = ("after-model", "mid-write", "before-append", "after-append")


def main(point: str, count: int, args: list[str]) -> None:
    from svcprep import fileio
    from svcprep.pipeline.models import ModelStage
    from svcprep.store.bookkeeping import DoneList
    from svcprep.store.files import FileSink

    reached = 0

    def now() -> bool:
        nonlocal reached
        reached += 1
        return reached == count

    def die() -> None:
        sys.stdout.flush()
        os._exit(CRASH_EXIT_CODE)

    if point == "after-model":
        real_run = ModelStage.run
        out = Path(args[args.index("--out") + 1])

        def run(self, clips):
            result = real_run(self, clips)
            if now():
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not any(
                        p.stat().st_size for p in (out / ".svcprep").rglob("done/*/*.txt")):
                    time.sleep(0.01)  # let earlier batches land, so the crash is mid-run
                die()
            return result

        ModelStage.run = run
    elif point == "mid-write":
        real_write = FileSink.write

        def write(self, file, uid, value):
            if now():
                def half(f):
                    f.write(b"\x93NUMPY\x01\x00" + b"\x00" * 64)
                    f.flush()
                    die()

                fileio.atomic_write(self.path(file, uid), half, self.temp_dir)
            return real_write(self, file, uid, value)

        FileSink.write = write
    elif point in ("before-append", "after-append"):
        real_append = DoneList.append

        def append(self, entry):
            if point == "before-append" and now():
                die()
            real_append(self, entry)
            if point == "after-append" and now():
                die()

        DoneList.append = append
    else:
        raise SystemExit(f"unknown crash point {point!r}; one of {', '.join(POINTS)}")
    from svcprep.cli.main import main as cli_main

    sys.argv = ["svcprep", *args]
    cli_main()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
