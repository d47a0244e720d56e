"""Neural pitch trackers (FCPE, RMVPE): resolved from a checkpoint without loading it for the run's checks,
loaded on the model device like the content extractors, and usable on their own::

    tracker = svcprep.load_pitch_tracker("rmvpe", model="rmvpe.pt", threshold=0.03, device="cpu")
    times, f0 = tracker.native_track(wav, sample_rate=44100)   # 10 ms frames of the 16 kHz audio, 0 = unvoiced
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svcprep.errors import ConfigError
from svcprep.extractors.limits import building


@dataclass(frozen=True)
class TrackerEntry:
    module: str  # locate, read_config, spec, frame_times, load
    default_threshold: float  # the voicing threshold the tracker's own projects use by default


# One line per neural tracker (torch-free: pitch settings validate against it).
TRACKERS = {
    "fcpe": TrackerEntry("svcprep.pitch.fcpe", 0.006),  # torchfcpe's default
    "rmvpe": TrackerEntry("svcprep.pitch.rmvpe", 0.03),  # RVC's and DDSP-SVC's
}


@dataclass(frozen=True)
class ResolvedTracker:
    """A tracker with its checkpoint located and read for its shapes, not yet on a device."""

    name: str
    path: Path
    threshold: float
    device: str
    dtype: str
    spec: Any  # ExtractorSpec: 16 kHz, hop 160, L // 160 + 1 frames
    config: dict

    @property
    def model_key(self) -> tuple:
        return ("tracker", self.name, str(self.path), self.threshold, self.device, self.dtype)

    def frame_times(self, num_frames: int):
        return importlib.import_module(TRACKERS[self.name].module).frame_times(num_frames)

    def load(self):
        module = importlib.import_module(TRACKERS[self.name].module)
        with building(self.path):
            return module.load(self)


def resolve_tracker(name: str, model: str | Path | None = None, *, threshold: float | None = None,
                    device: str = "auto", dtype: str = "float32") -> ResolvedTracker:
    """Locate and check the checkpoint (restricted unpickler; shapes, not code), before any audio is read."""
    if name not in TRACKERS:
        raise ConfigError(f"unknown pitch tracker {name!r}; neural trackers: {', '.join(TRACKERS)}", "method")
    module = importlib.import_module(TRACKERS[name].module)
    path = module.locate(model)
    config = module.read_config(path)
    spec = module.spec(config)
    chosen = TRACKERS[name].default_threshold if threshold is None else float(threshold)
    return ResolvedTracker(name, path, chosen, device, dtype, spec, config)


def load_pitch_tracker(name: str, model: str | Path | None = None, *, threshold: float | None = None,
                       device: str = "auto", dtype: str = "float32"):
    """A loaded tracker: ``.extract(waves_16k)`` (F0 per 10 ms frame), ``.native_track(wav, sample_rate)``,
    ``.salience(waves_16k)``."""
    return resolve_tracker(name, model, threshold=threshold, device=device, dtype=dtype).load()
