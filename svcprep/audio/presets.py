"""Mel presets: YAML files in ``configs/`` loaded into a frozen dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from svcprep.align.grid import FrameGrid
from svcprep.audio.io import LENGTH_RULES
from svcprep.errors import ConfigError

MEL_LAYOUTS = ("mels_by_frames", "frames_by_mels")


@dataclass(frozen=True)
class MelPreset:
    """A mel-spectrogram grid. ``mel_layout`` says how mels are saved: ``(n_mels, T)`` or ``(T, n_mels)``."""

    name: str
    sample_rate: int
    n_fft: int
    hop_length: int
    win_length: int
    n_mels: int
    fmin: float
    fmax: float
    mel_layout: str = "mels_by_frames"
    resample_length: str = "soxr"  # or "librosa": the audio length Amphion's librosa.load gives

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"preset {self.name}: {name} must be a positive integer, got {value!r}")
        for name in ("fmin", "fmax"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"preset {self.name}: {name} must be a number of Hz, got {value!r}")
        if self.n_fft > 65536 or self.n_mels > 1024 or self.sample_rate > 768000:
            raise ConfigError(f"preset {self.name}: n_fft <= 65536, n_mels <= 1024, sample_rate <= 768000")
        if self.resample_length not in LENGTH_RULES:
            raise ConfigError(f"preset {self.name}: resample_length must be one of {LENGTH_RULES}, "
                              f"got {self.resample_length!r}")
        if self.mel_layout not in MEL_LAYOUTS:
            raise ConfigError(f"preset {self.name}: mel_layout must be one of {MEL_LAYOUTS}, got {self.mel_layout!r}")
        if self.win_length > self.n_fft:
            raise ConfigError(f"preset {self.name}: win_length {self.win_length} > n_fft {self.n_fft}")
        if (self.n_fft - self.hop_length) % 2:
            raise ConfigError(f"preset {self.name}: n_fft - hop_length must be even for num_samples // hop frames")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(f"preset {self.name}: need 0 <= fmin < fmax <= sample_rate/2")

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(self.hop_length, self.sample_rate)

    @property
    def time_axis(self) -> int:
        """Axis of the saved mel array that counts frames."""
        return 1 if self.mel_layout == "mels_by_frames" else 0

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length

    def frame_centre_seconds(self, num_frames: int) -> np.ndarray:
        """Centre time of each mel frame. The signal is reflect-padded by ``(n_fft - hop) / 2`` on each side and
        framed with ``center=False``, so frame i spans samples ``[i*hop - pad, i*hop - pad + n_fft)``."""
        pad = (self.n_fft - self.hop_length) // 2
        return (np.arange(num_frames) * self.hop_length - pad + self.n_fft / 2) / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        """Every field; ``resample_length`` only when not the default, so that outputs recorded before it
        existed (soxr lengths) still compare equal."""
        data = dataclasses.asdict(self)
        if data["resample_length"] == "soxr":
            del data["resample_length"]
        return data


def builtin_preset_names() -> list[str]:
    return sorted(
        p.name[: -len(".yaml")]
        for p in resources.files("svcprep.configs").iterdir()
        if p.name.endswith(".yaml") and _is_mel_preset_text(p.read_text(encoding="utf-8"))
    )


def _is_mel_preset_text(text: str) -> bool:
    data = yaml.safe_load(text)
    return isinstance(data, dict) and "n_mels" in data


def preset_from_dict(name: str, data: dict[str, Any]) -> MelPreset:
    fields = {f.name for f in dataclasses.fields(MelPreset)} - {"name"}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"preset {name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}")
    missing = sorted(fields - set(data) - {"mel_layout", "resample_length"})
    if missing:
        raise ConfigError(f"preset {name}: missing key(s) {', '.join(missing)}")
    return MelPreset(name=name, **data)


def load_preset(name_or_path: str) -> MelPreset:
    """Load a built-in preset by name (e.g. ``amphion-svc-24k``) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text, name = path.read_text(encoding="utf-8"), path.stem
    else:
        resource = resources.files("svcprep.configs") / f"{name_or_path}.yaml"
        if not resource.is_file() or not _is_mel_preset_text(resource.read_text(encoding="utf-8")):
            raise ConfigError(
                f"unknown preset {name_or_path!r}; built-in: {', '.join(builtin_preset_names())} (or a .yaml path)"
            )
        text, name = resource.read_text(encoding="utf-8"), name_or_path
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer past Python's digit limit
        raise ConfigError(f"preset {name}: invalid YAML ({str(exc).splitlines()[0][:200]})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"preset {name}: expected a mapping of settings")
    return preset_from_dict(name, data)
