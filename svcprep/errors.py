"""Typed errors. Library code raises these; the CLI turns them into one line and an exit code."""


class SvcprepError(Exception):
    """Base class of every error svcprep raises on purpose."""


class ConfigError(SvcprepError):
    """A setting, preset or command-line option is wrong (exit code 2)."""


class AudioLoadError(SvcprepError):
    """An audio file cannot be decoded, or is too short / empty."""


class AlignmentError(SvcprepError):
    """Features do not cover the target frame grid within the tolerance."""


class CheckpointError(SvcprepError):
    """A model checkpoint is missing, unreadable, or does not match the expected architecture."""


class ModelNotAvailableError(CheckpointError):
    """A hub id is not in the local cache and the machine is offline."""


class FrameCountError(SvcprepError):
    """A model produced a different number of frames than its spec predicts."""


class OutputConflictError(ConfigError):
    """Existing outputs were made with other settings; refuse to mix them."""
