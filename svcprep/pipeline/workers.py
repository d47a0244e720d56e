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


class WorkerDeaths:
    """Where a dead DataLoader worker is reported: only inside the loader's ``next()``.

    torch's own SIGCHLD handler raises the death wherever the main thread happens to be: inside a clip's
    computation (that clip is then recorded as failed) or between batches (the run stops). It must raise inside
    ``next()``, though: a worker killed mid-message leaves the main process blocked on the rest of it. This handler
    raises there, and otherwise notes the death and raises it as the next ``next()`` starts, before anything is
    read. Use it as a context manager around the loader, in the main thread.
    """

    def __init__(self) -> None:
        self.inside = self.pending = False
        self._previous = None

    def __enter__(self) -> WorkerDeaths:
        import threading

        from torch.utils.data._utils import signal_handling  # lazy: torch only with decode workers

        signal_handling._SIGCHLD_handler_set = True  # keep torch's own handler out: this one replaces it
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGCHLD, self._on_child_exit)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGCHLD, self._previous)
            self._previous = None

    def _on_child_exit(self, signum: int, frame: object) -> None:
        if self.inside:
            self._raise_if_a_worker_died()
        else:
            self.pending = True
        if callable(self._previous):
            self._previous(signum, frame)

    @staticmethod
    def _raise_if_a_worker_died() -> None:
        from torch.utils.data._utils.signal_handling import _error_if_any_worker_fails  # lazy: as above

        _error_if_any_worker_fails()  # RuntimeError("DataLoader worker (pid N) is killed by signal: ...")

    def next(self, iterator):
        """``next(iterator)``, with a worker's death raised here and nowhere else."""
        self.inside = True
        try:
            if self.pending:
                self.pending = False
                self._raise_if_a_worker_died()
            return next(iterator)
        finally:
            self.inside = False
