"""Typed errors. Library code raises these; the CLI turns them into one line and an exit code."""


class SvcprepError(Exception):
    """Base class of every error svcprep raises on purpose."""


class ConfigError(SvcprepError):
    """A setting, preset or command-line option is wrong (exit code 2).

    ``parameter`` names the library parameter at fault (e.g. ``batch_seconds``); the CLI shows its flag.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        self.parameter, self.detail = parameter, message
        super().__init__(f"{parameter}: {message}" if parameter else message)


class AudioLoadError(SvcprepError):
    """An audio file cannot be decoded, or is too short / empty."""


class AlignmentError(SvcprepError):
    """Features do not cover the target frame grid within the tolerance."""


class CheckpointError(SvcprepError):
    """A model checkpoint is missing, unreadable, or does not match the expected architecture."""


class ModelNotAvailableError(ConfigError, CheckpointError):
    """A model path does not exist, or a hub id is not in the local cache and the machine is offline."""


class FrameCountError(SvcprepError):
    """A model produced a different number of frames than its spec predicts."""


class OutputConflictError(ConfigError):
    """Existing outputs were made with other settings; refuse to mix them."""


class StorageError(SvcprepError):
    """Outputs cannot be written (disk full, read-only, I/O error): the run stops, finished work is kept."""


class RunInterrupted(SvcprepError):
    """The user stopped a run (Ctrl-C: exit 130, SIGTERM: 143); what was finished is saved, a rerun resumes."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (a scheduler's stop, ``kill``)."""
