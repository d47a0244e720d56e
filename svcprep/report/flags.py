"""What the report flags, and where each threshold comes from: one table of defaults (settable with ``--set``),
and the trainers' own limits on clip length and F0."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from svcprep.errors import ConfigError

FLAGS = ("clipped", "noisy", "band_limited", "dc_offset", "too_short", "too_long", "mostly_silent",
         "pitch_out_of_range", "duplicate")


@dataclass(frozen=True)
class TrainerLimits:
    """What a trainer drops, cuts or cannot represent (``None``: no limit of that kind)."""

    name: str
    min_seconds: float | None
    max_seconds: float | None
    f0_min_hz: float | None  # None: no pitch limit (Seed-VC)
    f0_max_hz: float | None
    why: str


# 50-1100 Hz: RVC's and Applio's coarse pitch grid, Amphion's f0_min/f0_max, so-vits-svc's tracker limits.
TRAINERS = {
    "any": TrainerLimits("any", 0.3, 15.0, 50.0, 1100.0,
                         "the strictest common limits: so-vits-svc skips clips under 0.3 s, its users are told to keep "
                         "clips under 15 s (longer takes are what `slice:` is for), and 50-1100 Hz is the pitch range "
                         "of RVC, Applio, Amphion and so-vits-svc"),
    "so-vits-svc": TrainerLimits("so-vits-svc", 0.3, 15.0, 50.0, 1100.0,
                                 "preprocess_flist_config.py skips clips under 0.3 s; 2-15 s clips advised; "
                                 "F0 limits 50-1100 Hz"),
    "so-vits-svc-fork": TrainerLimits("so-vits-svc-fork", 0.3, 15.0, 50.0, 1100.0,
                                      "its preprocessing drops clips under 0.3 s; F0 50-1100 Hz"),
    "rvc": TrainerLimits("rvc", 0.75, 6.75, 50.0, 1100.0,
                         "the bucket sampler drops clips outside 0.75-6.75 s; coarse pitch grid 50-1100 Hz"),
    "applio": TrainerLimits("applio", 0.75, 6.75, 50.0, 1100.0,
                            "RVC's loader and bucket sampler (0.75-6.75 s); coarse pitch grid 50-1100 Hz"),
    "amphion": TrainerLimits("amphion", None, None, 50.0, 1100.0, "SVC defaults f0_min 50, f0_max 1100"),
    "ddsp-svc": TrainerLimits("ddsp-svc", None, None, 50.0, 1100.0, "no clip-length rule; F0 as the others"),
    "rift-svc": TrainerLimits("rift-svc", 0.4, None, None, None,
                              "its loudness step needs one BS.1770 block (0.4 s); its loader cuts long clips into "
                              "256-frame windows and sets no pitch limit"),
    "seed-vc": TrainerLimits("seed-vc", 1.0, 30.0, None, None,
                             "its fine-tuning swaps a clip outside 1-30 s for a random other clip; no F0 limit"),
}


# What each threshold can mean: shares in [0, 1], levels in dBFS at most 0, seconds up to a day, F0 in the audible
# range, SNR in [0, 200] dB.
THRESHOLD_RANGES = {
    "clip_level": (1e-6, 1.0), "max_clipped_fraction": (0.0, 1.0), "min_snr_db": (0.0, 200.0),
    "min_bandwidth_fraction": (0.0, 1.0), "max_dc_offset": (0.0, 1.0), "silence_dbfs": (-200.0, 0.0),
    "max_silence_fraction": (0.0, 1.0), "min_seconds": (0.0, 86400.0), "max_seconds": (0.0, 86400.0),
    "f0_min_hz": (1.0, 20000.0), "f0_max_hz": (1.0, 20000.0),
}


@dataclass(frozen=True)
class Thresholds:
    """Defaults of every flag's threshold (``--set name=value``)."""

    clip_level: float = 0.999  # |sample| at or above this counts as clipped
    max_clipped_fraction: float = 0.001  # clipped: more than 0.1 % of the samples at the clip level
    min_snr_db: float = 20.0  # noisy: loud frames less than 20 dB above the quiet ones
    min_bandwidth_fraction: float = 0.7  # band_limited: under 70 % of min(Nyquist, 16 kHz)
    max_dc_offset: float = 0.01  # dc_offset: a channel mean beyond ±0.01 (-40 dBFS)
    silence_dbfs: float = -42.0  # a 20 ms frame below this is silence (RVC's slicer threshold)
    max_silence_fraction: float = 0.5  # mostly_silent: more than half the frames silent
    # too_short / too_long / pitch_out_of_range (the 1st or 99th percentile of the voiced F0 outside the range):
    # the trainer's limits unless set here
    min_seconds: float | None = None
    max_seconds: float | None = None
    f0_min_hz: float | None = None
    f0_max_hz: float | None = None

    @classmethod
    def from_assignments(cls, values: dict[str, str]) -> Thresholds:
        """Thresholds from ``--set`` text, each a finite number in its range (a NaN would flag nothing and fail the
        page after every file was measured): refused here, before any audio is read."""
        names = {f.name for f in dataclasses.fields(cls)}
        parsed: dict[str, Any] = {}
        for name, text in values.items():
            if name not in names:
                raise ConfigError(f"unknown threshold {name!r}; known: {', '.join(sorted(names))}", "set")
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(f"{name}={text[:40]!r}: expected a number", "set") from None
            low, high = THRESHOLD_RANGES[name]
            if not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(f"{name}={text[:40]!r}: expected a number in [{low:g}, {high:g}]", "set")
            parsed[name] = value
        for low, high in (("min_seconds", "max_seconds"), ("f0_min_hz", "f0_max_hz")):
            if low in parsed and high in parsed and parsed[low] >= parsed[high]:
                raise ConfigError(f"{low}={parsed[low]:g} must be below {high}={parsed[high]:g}", "set")
        return cls(**parsed)

    def with_trainer(self, limits: TrainerLimits) -> Thresholds:
        """The trainer's limits where none was set."""
        return dataclasses.replace(
            self,
            min_seconds=self.min_seconds if self.min_seconds is not None else limits.min_seconds,
            max_seconds=self.max_seconds if self.max_seconds is not None else limits.max_seconds,
            f0_min_hz=self.f0_min_hz if self.f0_min_hz is not None else limits.f0_min_hz,
            f0_max_hz=self.f0_max_hz if self.f0_max_hz is not None else limits.f0_max_hz)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def trainer_limits(name: str) -> TrainerLimits:
    if name not in TRAINERS:
        raise ConfigError(f"unknown trainer {name!r}; known: {', '.join(TRAINERS)}", "trainer")
    return TRAINERS[name]


def parse_flags(text: str | None) -> tuple[str, ...]:
    """``--fail-on clipped,noisy`` → the flag names, checked."""
    if not text:
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in FLAGS]
    if unknown:
        raise ConfigError(f"unknown flag {unknown[0]!r}; flags: {', '.join(FLAGS)}", "fail_on")
    return names


def clip_flags(clip: dict[str, Any], t: Thresholds) -> list[str]:
    """The flags of one clip's measures (``duplicate`` is decided across clips)."""
    flags = []
    if clip["clipped_fraction"] > t.max_clipped_fraction:
        flags.append("clipped")
    if clip["snr_db"] is not None and clip["snr_db"] < t.min_snr_db:
        flags.append("noisy")
    nyquist_cap = min(clip["sample_rate"] / 2.0, 16000.0)
    if clip["bandwidth_hz"] is not None and clip["bandwidth_hz"] < t.min_bandwidth_fraction * nyquist_cap:
        flags.append("band_limited")
    if abs(clip["dc_offset"]) > t.max_dc_offset:
        flags.append("dc_offset")
    if t.min_seconds is not None and clip["seconds"] < t.min_seconds:
        flags.append("too_short")
    if t.max_seconds is not None and clip["seconds"] > t.max_seconds:
        flags.append("too_long")
    if clip["silence_fraction"] is not None and clip["silence_fraction"] > t.max_silence_fraction:
        flags.append("mostly_silent")
    low, high = clip["f0_min_hz"], clip["f0_max_hz"]
    if low is not None and ((t.f0_min_hz is not None and low < t.f0_min_hz)
                            or (t.f0_max_hz is not None and high > t.f0_max_hz)):
        flags.append("pitch_out_of_range")
    return flags
