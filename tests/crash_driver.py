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

CRASH_EXIT_CODE = 86
POINTS = ("after-model", "mid-write", "before-append", "after-append")


def main(point: str, count: int, args: list[str]) -> None:
    from svcprep.pipeline import provenance, runner, storage, writer

    reached = 0

    def now() -> bool:
        nonlocal reached
        reached += 1
        return reached == count

    def die() -> None:
        sys.stdout.flush()
        os._exit(CRASH_EXIT_CODE)

    if point == "after-model":
        real_extract = runner.Pipeline._extract

        def extract(self, feature, clips, waves):
            result = real_extract(self, feature, clips, waves)
            if now():
                deadline = time.monotonic() + 60
                while not feature.output.done_list.load() and time.monotonic() < deadline:
                    time.sleep(0.01)  # let earlier batches land, so the crash is mid-run
                die()
            return result

        runner.Pipeline._extract = extract
    elif point == "mid-write":
        def save(path, array, temp_dir=None):
            if now():
                def half(f):
                    f.write(b"\x93NUMPY\x01\x00" + b"\x00" * 64)
                    f.flush()
                    die()

                storage.atomic_write(path, half, temp_dir)
            storage.atomic_save_npy(path, array, temp_dir)

        writer.atomic_save_npy = save
    elif point in ("before-append", "after-append"):
        real_append = provenance.DoneList.append

        def append(self, uid):
            if point == "before-append" and now():
                die()
            real_append(self, uid)
            if point == "after-append" and now():
                die()

        provenance.DoneList.append = append
    else:
        raise SystemExit(f"unknown crash point {point!r}; one of {', '.join(POINTS)}")
    from svcprep.cli.main import main as cli_main

    sys.argv = ["svcprep", *args]
    cli_main()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
