"""Pitch settings: tracker, F0 range, voicing threshold, model file and grid, checked in one place
(torch-free; no tracker package is needed to validate them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from svcprep.errors import ConfigError
from svcprep.pitch.registry import TRACKERS

CPU_METHODS = ("parselmouth", "dio", "harvest")  # run in the decode stage, on the CPU
MODEL_METHODS = tuple(TRACKERS)  # batched on the model device
METHODS = CPU_METHODS + MODEL_METHODS
GRIDS = ("exact", "amphion")
EXTRA_HINT = "pip install 'svcprep[pitch]' (praat-parselmouth, pyworld-prebuilt)"


@dataclass(frozen=True)
class PitchSettings:
    """``grid="exact"``: F0 at each output frame's time. ``grid="amphion"``: Amphion's own call, then its
    end-pad/truncate to the mel length (frame i then lies ~2.4 frames late for parselmouth; CPU methods only).

    ``threshold``: voicing threshold on the neural trackers' peak salience (``None``: the method's default).
    ``model``: the tracker's checkpoint (RMVPE: ``rmvpe.pt``; FCPE: default the one torchfcpe ships).
    """

    method: str = "parselmouth"
    f0_min: float = 50.0
    f0_max: float = 1100.0
    grid: str = "exact"
    threshold: float | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown pitch method {self.method!r}; choose one of {', '.join(METHODS)}", "method")
        if self.grid not in GRIDS:
            raise ConfigError(f"unknown pitch grid {self.grid!r}; choose one of {', '.join(GRIDS)}", "grid")
        if self.grid == "amphion" and self.method in MODEL_METHODS:
            raise ConfigError(f"grid 'amphion' reproduces Amphion's own trackers ({', '.join(CPU_METHODS)}); "
                              f"{self.method} runs on the exact grid only", "grid")
        for name in ("f0_min", "f0_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(f"{name} must be a positive number of Hz, got {value!r}", name)
        if self.f0_min >= self.f0_max:
            raise ConfigError(f"f0_min ({self.f0_min}) must be below f0_max ({self.f0_max})", "f0_min")
        if self.threshold is not None:
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float) \
                    or not 0 <= self.threshold < 1:
                raise ConfigError(f"threshold must be a number in [0, 1), got {self.threshold!r}", "threshold")
            if self.method in CPU_METHODS:
                raise ConfigError(f"threshold applies to {', '.join(MODEL_METHODS)}; {self.method} has its own "
                                  "voicing decision", "threshold")
        if self.model is not None and not isinstance(self.model, str):
            raise ConfigError(f"model must be a path, got {self.model!r}", "model")

    @property
    def on_model_device(self) -> bool:
        return self.method in MODEL_METHODS

    @property
    def voicing_threshold(self) -> float | None:
        if self.threshold is not None or self.method not in TRACKERS:
            return self.threshold
        return TRACKERS[self.method].default_threshold

    def replace(self, **changes: Any) -> PitchSettings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """What shapes the output: the resolved threshold; the model file is recorded by its hash elsewhere."""
        data = dataclasses.asdict(self)
        data["threshold"] = self.voicing_threshold
        data.pop("model")
        if self.method in CPU_METHODS:
            data.pop("threshold")
        return data


def pitch_settings_from_dict(data: Any, defaults: PitchSettings | None = None) -> PitchSettings:
    """From a run config's ``pitch:`` (``true`` or a mapping), over ``defaults`` (a recipe's)."""
    base = defaults or PitchSettings()
    if data is True:
        return base
    if not isinstance(data, dict):
        raise ConfigError(f"pitch must be true or a mapping of {', '.join(_FIELDS)}, got {data!r}", "pitch")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"pitch: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_FIELDS))}", "pitch")
    changes = dict(data)
    if "method" in changes and changes["method"] != base.method and "threshold" not in changes:
        changes["threshold"] = None  # another tracker: its own default threshold
    return dataclasses.replace(base, **changes)


_FIELDS = tuple(f.name for f in dataclasses.fields(PitchSettings))


def check_backend(method: str) -> None:
    """Raise a :class:`ConfigError` naming the extra when a CPU method's package is not installed."""
    if method not in CPU_METHODS:
        return
    module = "parselmouth" if method == "parselmouth" else "pyworld"
    try:
        __import__(module)
    except ImportError as exc:
        raise ConfigError(f"pitch method {method!r} needs the optional package {module!r}: {EXTRA_HINT}",
                          "method") from exc
