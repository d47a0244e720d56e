"""Option parsing shared by commands: grids from extractors/presets, error reporting."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from svcprep.align.grid import FrameGrid, format_rate
from svcprep.audio.presets import load_preset
from svcprep.errors import CheckpointError, ConfigError, RunInterrupted, SvcprepError
from svcprep.extractors.registry import grid_for

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def flag_of(parameter: str) -> str:
    """The command-line flag of a library parameter: ``batch_seconds`` → ``--batch-seconds``."""
    return {"extractors": "--extractor"}.get(parameter, "--" + parameter.replace("_", "-"))


def reports_errors(func: F) -> F:
    """Turn library errors into one line on stderr and an exit code (2: config/usage or an unusable model file,
    1: other, 130: Ctrl-C, 143: SIGTERM)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            message = f"{flag_of(exc.parameter)}: {exc.detail}" if exc.parameter else str(exc)
            raise fail(message, EXIT_USAGE) from None
        except CheckpointError as exc:  # a model file the user named is unusable: fix the argument
            raise fail(str(exc), EXIT_USAGE) from None
        except RunInterrupted as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted; rerun the same command to resume", EXIT_INTERRUPTED) from None
        except SvcprepError as exc:
            raise fail(str(exc), EXIT_FAILED) from None

    return wrapper  # type: ignore[return-value]


def source_grid(
    extractor: str | None, model: str | None, source_hop: int | None, source_sample_rate: int | None
) -> tuple[str, FrameGrid, str]:
    """(name, grid, derivation text) of the source features, from an extractor or explicit numbers."""
    if extractor and (source_hop or source_sample_rate):
        raise ConfigError("give either --extractor or --source-hop/--source-sample-rate, not both")
    if extractor:
        spec = grid_for(extractor, model)
        return spec.name, spec.grid, spec.describe()
    if model is not None:
        raise ConfigError("--model needs --extractor")
    if not (source_hop and source_sample_rate):
        raise ConfigError("give --extractor NAME, or both --source-hop and --source-sample-rate")
    grid = FrameGrid(source_hop, source_sample_rate)

    rate = format_rate(grid.frame_rate)
    return "custom", grid, f"custom: {source_sample_rate} Hz, hop {source_hop} samples → {rate} Hz"


def target_grid(preset: str | None, mel_sample_rate: int | None, mel_hop: int | None) -> tuple[FrameGrid, int]:
    """(grid, mel time axis) from a preset, or explicit numbers with Amphion's ``(n_mels, T)`` layout."""
    if preset and (mel_sample_rate or mel_hop):
        raise ConfigError("give either --preset or --mel-sample-rate/--mel-hop, not both")
    if preset:
        p = load_preset(preset)
        return p.grid, p.time_axis
    if not (mel_sample_rate and mel_hop):
        raise ConfigError("give --preset NAME, or both --mel-sample-rate and --mel-hop")
    return FrameGrid(mel_hop, mel_sample_rate), 1
