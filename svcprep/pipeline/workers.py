"""Child processes never outlive the run that started them (a ``kill -9`` of the run included)."""

from __future__ import annotations

import os
import signal


def exit_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    Call it in the child. If the parent is already gone (re-parented before the call), exit at once.
    Elsewhere than Linux this does nothing; DataLoader workers still stop on their own watchdog there.
    """
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return
    if os.getppid() != parent or parent == 1:
        os._exit(1)


def decode_worker_init(_worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one thread per decode worker, and die with the run."""
    exit_with_parent()
    import torch

    torch.set_num_threads(1)
