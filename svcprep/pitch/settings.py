"""Pitch settings: method, F0 range and grid, checked in one place (torch-free, no pitch backend needed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from svcprep.errors import ConfigError

METHODS = ("parselmouth", "dio", "harvest")
GRIDS = ("exact", "amphion")
EXTRA_HINT = "pip install 'svcprep[pitch]' (praat-parselmouth, pyworld-prebuilt)"


@dataclass(frozen=True)
class PitchSettings:
    """``grid="exact"``: frame i is F0 at mel frame i's centre. ``grid="amphion"``: Amphion's own call, then its
    end-pad/truncate to the mel length (frame i then lies ~2.4 frames late for parselmouth)."""

    method: str = "parselmouth"
    f0_min: float = 50.0
    f0_max: float = 1100.0
    grid: str = "exact"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown pitch method {self.method!r}; choose one of {', '.join(METHODS)}", "method")
        if self.grid not in GRIDS:
            raise ConfigError(f"unknown pitch grid {self.grid!r}; choose one of {', '.join(GRIDS)}", "grid")
        for name in ("f0_min", "f0_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(f"{name} must be a positive number of Hz, got {value!r}", name)
        if self.f0_min >= self.f0_max:
            raise ConfigError(f"f0_min ({self.f0_min}) must be below f0_max ({self.f0_max})", "f0_min")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pitch_settings_from_dict(data: Any) -> PitchSettings:
    if data is True:
        return PitchSettings()
    if not isinstance(data, dict):
        raise ConfigError(f"pitch must be true or a mapping of method/f0_min/f0_max/grid, got {data!r}", "pitch")
    fields = {f.name for f in dataclasses.fields(PitchSettings)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"pitch: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}", "pitch")
    return PitchSettings(**data)


def check_backend(method: str) -> None:
    """Raise a :class:`ConfigError` naming the extra when the method's package is not installed."""
    module = "parselmouth" if method == "parselmouth" else "pyworld"
    try:
        __import__(module)
    except ImportError as exc:
        raise ConfigError(f"pitch method {method!r} needs the optional package {module!r}: {EXTRA_HINT}",
                          "method") from exc
