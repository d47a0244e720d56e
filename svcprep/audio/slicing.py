"""Slicing long takes at their silences: a corpus stage, so every recipe can train on pieces of raw recordings.

Per take (decoded to mono at ``sample_rate``, optionally high-passed first, as RVC does):

1. frame RMS every ``hop_ms`` (windows of ``min(min_interval, 4·hop)`` centred on the frame, zero-padded);
2. a silence is a run of frames under ``threshold_db`` (re full scale); one lasting at least ``min_interval_ms``
   where the current piece is at least ``min_length_ms`` long is cut at its quietest frame, keeping at most
   ``max_sil_kept_ms`` of it on each side (a leading silence longer than that is dropped up to its quietest
   frame near its end; a trailing one from its quietest frame near its start) — the rule of RVC's and openvpi's
   slicers;
3. optionally each part is cut into ``piece_seconds`` pieces every ``piece_seconds - overlap_seconds`` (the last
   piece of a part takes the rest once it is at most ``piece_seconds + overlap_seconds``);
4. pieces peaking above ``max_peak``, or outside ``[min_piece_seconds, max_piece_seconds]``, are dropped.

Pieces are numbered before any is dropped, so a piece keeps its number (and its id, ``u/0000k``) whatever the
settings that drop others.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from svcprep.audio.filters import apply_filter, butter_highpass, impulse_response
from svcprep.audio.io import LENGTH_RULES, Audio, resample, to_channels
from svcprep.errors import ConfigError

PRESETS = {
    # RVC's preprocessing (its trainset slicer, 3.7 s pieces with 0.3 s overlap, 48 Hz high-pass, peak 2.5),
    # keeping the piece lengths its bucket sampler trains on (0.75-6.75 s).
    "rvc": dict(threshold_db=-42.0, min_length_ms=1500, min_interval_ms=400, hop_ms=15, max_sil_kept_ms=500,
                piece_seconds=3.7, overlap_seconds=0.3, max_peak=2.5, highpass_hz=48.0,
                min_piece_seconds=0.75, max_piece_seconds=6.75),
    # Applio's "Automatic" cutting: RVC's slicer, then 3.0 s pieces with 0.3 s overlap, no high-pass (its default),
    # the take resampled as librosa's soxr_vhq does; the same bucket limits.
    "applio": dict(threshold_db=-42.0, min_length_ms=1500, min_interval_ms=400, hop_ms=15, max_sil_kept_ms=500,
                   piece_seconds=3.0, overlap_seconds=0.3, max_peak=2.5, min_piece_seconds=0.75,
                   max_piece_seconds=6.75, resample_rule="librosa_vhq"),
    # openvpi's audio-slicer defaults: long pieces, silences kept up to 5 s, no fixed-length cutting.
    "openvpi": dict(threshold_db=-40.0, min_length_ms=5000, min_interval_ms=300, hop_ms=20, max_sil_kept_ms=5000),
}


# name -> (lowest, highest, None allowed): what a slicer can work with; a take is hours long at most.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "threshold_db": (-200.0, 0.0, False),
    "min_length_ms": (0.0, 3_600_000.0, False),
    "min_interval_ms": (0.0, 3_600_000.0, False),
    "hop_ms": (1.0, 1000.0, False),
    "max_sil_kept_ms": (0.0, 3_600_000.0, False),
    "piece_seconds": (0.1, 3600.0, True),
    "overlap_seconds": (0.0, 3600.0, False),
    "max_peak": (0.0, 1e6, True),
    "highpass_hz": (0.0, 24_000.0, True),
    "min_piece_seconds": (0.0, 3600.0, False),
    "max_piece_seconds": (0.0, 3600.0, True),
    "sample_rate": (1000, 384_000, True),
}
POSITIVE = {"min_length_ms", "min_interval_ms", "max_sil_kept_ms", "max_peak", "highpass_hz", "max_piece_seconds"}


def _shown(value: Any) -> str:
    """A value for a message: scalars as they are, anything else by its type (it may be huge)."""
    return repr(value) if isinstance(value, str | int | float | type(None)) and len(repr(value)) < 60 else \
        f"a {type(value).__name__}"


@dataclass(frozen=True)
class SliceSettings:
    threshold_db: float = -40.0
    min_length_ms: float = 5000
    min_interval_ms: float = 300
    hop_ms: float = 20
    max_sil_kept_ms: float = 5000
    piece_seconds: float | None = None
    overlap_seconds: float = 0.0
    max_peak: float | None = None
    highpass_hz: float | None = None
    min_piece_seconds: float = 0.0
    max_piece_seconds: float | None = None
    sample_rate: int | None = None  # None: the take's own rate
    resample_rule: str = "soxr"  # how a take reaches sample_rate (svcprep.audio.io.LENGTH_RULES)

    def __post_init__(self) -> None:
        for name, (low, high, optional) in BOUNDS.items():  # types and bounds first: nothing else reads a value
            value = getattr(self, name)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"slice.{name} must be a number, got {_shown(value)}", "slice")
            if not low <= value <= high or (name in POSITIVE and value <= 0):
                bound = f"in ({low:g}, {high:g}]" if name in POSITIVE else f"in [{low:g}, {high:g}]"
                raise ConfigError(f"slice.{name} = {value:g} is not {bound}", "slice")
        if self.resample_rule not in LENGTH_RULES:
            raise ConfigError(f"slice.resample_rule must be one of {', '.join(LENGTH_RULES)}, got "
                              f"{_shown(self.resample_rule)}", "slice")
        if self.sample_rate is not None and not isinstance(self.sample_rate, int):
            raise ConfigError(f"slice.sample_rate must be an integer, got {self.sample_rate!r}", "slice")
        if self.highpass_hz is not None and self.sample_rate is not None and self.highpass_hz >= self.sample_rate / 2:
            raise ConfigError(f"slice.highpass_hz = {self.highpass_hz:g} is not below half the slicing rate "
                              f"({self.sample_rate} Hz)", "slice")
        if self.max_piece_seconds is not None and self.min_piece_seconds > self.max_piece_seconds:
            raise ConfigError("slice: need min_piece_seconds <= max_piece_seconds", "slice")
        if not self.min_length_ms >= self.min_interval_ms >= self.hop_ms:
            raise ConfigError("slice: need min_length_ms >= min_interval_ms >= hop_ms", "slice")
        if self.max_sil_kept_ms < self.hop_ms:
            raise ConfigError("slice: need max_sil_kept_ms >= hop_ms", "slice")
        if self.piece_seconds is not None and not 0 <= self.overlap_seconds < self.piece_seconds:
            raise ConfigError("slice: need 0 <= overlap_seconds < piece_seconds", "slice")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["resample_rule"] == "soxr":  # the default leaves the records of earlier runs as they were
            del data["resample_rule"]
        return data

    def frames(self, sample_rate: int) -> dict[str, int]:
        """The slicer's sizes in samples (hop, window) and frames (the rest), rounded as RVC's slicer rounds."""
        interval = sample_rate * self.min_interval_ms / 1000
        hop = round(sample_rate * self.hop_ms / 1000)
        return {"hop": hop, "window": min(round(interval), 4 * hop),
                "min_length": round(sample_rate * self.min_length_ms / 1000 / hop),
                "min_interval": round(interval / hop),
                "max_sil_kept": round(sample_rate * self.max_sil_kept_ms / 1000 / hop)}


def slice_settings_from(value: Any, overrides: dict[str, Any] | None = None) -> SliceSettings:
    """``slice:`` of a run config: a preset name (``rvc``, ``openvpi``), a mapping (over the openvpi-like
    defaults, or over ``preset:``), or settings; ``overrides`` from ``--set slice.KEY=VALUE``."""
    if isinstance(value, SliceSettings):
        base = value.to_dict()
    elif isinstance(value, str):
        if value not in PRESETS:
            raise ConfigError(f"unknown slice preset {_shown(value)}; choose {', '.join(PRESETS)} or give settings",
                              "slice")
        base = {**SliceSettings().to_dict(), **PRESETS[value]}
    elif isinstance(value, dict):
        preset = value.get("preset")
        if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
            raise ConfigError(f"unknown slice preset {_shown(preset)}; choose {', '.join(PRESETS)}", "slice")
        base = {**SliceSettings().to_dict(), **(PRESETS[preset] if preset else {})}
        base.update({k: v for k, v in value.items() if k != "preset"})
    else:
        raise ConfigError(f"slice must be a preset name or a mapping, got {_shown(value)}", "slice")
    base.update(overrides or {})
    fields = {f.name for f in dataclasses.fields(SliceSettings)}
    unknown = sorted(map(str, set(base) - fields))
    if unknown:
        raise ConfigError(f"slice: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}", "slice")
    return SliceSettings(**base)


def frame_rms(samples: np.ndarray, window: int, hop: int, block: int = 1 << 20) -> np.ndarray:
    """RMS of ``window``-long frames every ``hop`` samples, frame i centred on sample ``i·hop`` (zero-padded).

    From running sums of squares in float64, read at each frame's edges; the sums are accumulated a block at a
    time (the same sequential sums as over the whole take, in memory of one block)."""
    half = window // 2
    length = len(samples)
    count = 1 + (length + 2 * half - window) // hop
    starts = np.arange(count) * hop
    # sum of squares of the zero-padded signal before index k = that of samples[: clip(k - half, 0, length)]
    edges = np.clip(np.concatenate([starts, starts + window]) - half, 0, length)
    order = np.argsort(edges, kind="stable")
    sorted_edges = edges[order]
    sums = np.zeros(len(edges))
    running = 0.0
    for first in range(0, length, block):
        piece = np.asarray(samples[first : first + block], dtype=np.float64)
        cumulative = np.cumsum(np.concatenate([[running], piece * piece]))  # sums before first .. first + len
        lo = np.searchsorted(sorted_edges, first, side="left")
        hi = np.searchsorted(sorted_edges, first + len(piece), side="right")
        chosen = order[lo:hi]
        sums[chosen] = cumulative[edges[chosen] - first]
        running = float(cumulative[-1])
    return np.sqrt(np.maximum(sums[count:] - sums[:count], 0.0) / window)


def silent_spans(rms: np.ndarray, threshold: float, min_length: int, min_interval: int,
                 max_sil_kept: int) -> list[tuple[int, int]]:
    """Frame spans ``(begin, end)`` to remove; the kept parts lie between them. See the module docstring."""
    spans: list[tuple[int, int]] = []
    silence_start: int | None = None
    part_start = 0

    def quietest(begin: int, end: int) -> int:  # frames [begin, end]
        return begin + int(np.argmin(rms[begin : end + 1]))

    for i, value in enumerate(rms):
        if value < threshold:
            silence_start = i if silence_start is None else silence_start
            continue
        if silence_start is None:
            continue
        leading = silence_start == 0 and i > max_sil_kept
        long_enough = i - silence_start >= min_interval and i - part_start >= min_length
        if not (leading or long_enough):
            silence_start = None
            continue
        length = i - silence_start
        if length <= max_sil_kept:
            cut = quietest(silence_start, i)
            spans.append((0, cut) if silence_start == 0 else (cut, cut))
            part_start = cut
        else:
            left = quietest(silence_start, silence_start + max_sil_kept)
            right = quietest(i - max_sil_kept, i)
            if silence_start == 0:
                spans.append((0, right))
            elif length <= 2 * max_sil_kept:
                middle = quietest(i - max_sil_kept, silence_start + max_sil_kept)
                spans.append((min(left, middle), max(right, middle)))
                right = max(right, middle)
            else:
                spans.append((left, right))
            part_start = right
        silence_start = None
    total = len(rms)
    if silence_start is not None and total - silence_start >= min_interval:
        spans.append((quietest(silence_start, min(total, silence_start + max_sil_kept)), total + 1))
    return spans


def kept_parts(num_samples: int, mono: np.ndarray, settings: SliceSettings, sample_rate: int) -> list[tuple[int, int]]:
    """Sample spans ``[begin, end)`` between the silences."""
    sizes = settings.frames(sample_rate)
    hop = sizes["hop"]
    if num_samples <= sizes["min_length"]:
        return [(0, num_samples)]
    rms = frame_rms(mono, sizes["window"], hop)
    spans = silent_spans(rms, 10 ** (settings.threshold_db / 20), sizes["min_length"], sizes["min_interval"],
                         sizes["max_sil_kept"])
    if not spans:
        return [(0, num_samples)]
    total = len(rms)
    bounds = ([(0, spans[0][0])] if spans[0][0] > 0 else [])
    bounds += [(spans[k][1], spans[k + 1][0]) for k in range(len(spans) - 1)]
    if spans[-1][1] < total:
        bounds.append((spans[-1][1], total))
    spans = [(begin * hop, min(num_samples, end * hop)) for begin, end in bounds]
    return [(a, b) for a, b in spans if b > a]


def fixed_pieces(begin: int, end: int, settings: SliceSettings, sample_rate: int) -> list[tuple[int, int]]:
    """A part cut into ``piece_seconds`` pieces every ``piece_seconds - overlap_seconds``."""
    if settings.piece_seconds is None:
        return [(begin, end)]
    step = settings.piece_seconds - settings.overlap_seconds
    tail = (settings.piece_seconds + settings.overlap_seconds) * sample_rate
    pieces, k = [], 0
    while True:
        start = begin + int(sample_rate * step * k)
        k += 1
        if end - start > tail:
            pieces.append((start, start + int(settings.piece_seconds * sample_rate)))
        else:
            pieces.append((start, end))
            return pieces


class NothingKept(ValueError):
    """A take with parts to cut, every one of them dropped (too loud, too short or too long)."""


@dataclass
class Piece:
    index: int  # among every piece of the take, dropped ones counted (so indices never shift)
    audio: Audio  # as the slicer sees it: mono, at the slicing rate, high-passed if the settings say so
    start: int  # samples at the slicing rate
    end: int
    source: Audio | None = None  # the take's own samples over the same span (its rate and channels, unfiltered)


def source_span(source: Audio, start: int, end: int, rate: int) -> Audio:
    """The take's own samples over ``[start, end)`` samples at ``rate`` (its own rate and channels): where the
    slicer decided to cut, for a trainer whose audio is not the slicer's (no high-pass, its own resampling)."""
    if rate == source.sample_rate:
        a, b = start, end
    else:
        a, b = (round(x * source.sample_rate / rate) for x in (start, end))
    return Audio(source.samples[a:b], source.sample_rate)  # a view: the take is held once, not copied per piece


class Slicer:
    def __init__(self, settings: SliceSettings) -> None:
        self.settings = settings
        self._response = None

    def prepare(self, source: Audio) -> Audio:
        """The take as the slicer sees and cuts it: mono (channels averaged), at ``sample_rate``, high-passed."""

        s = self.settings
        rate = s.sample_rate or source.sample_rate
        mono = resample(to_channels(source, 1), source.sample_rate, rate, s.resample_rule)
        if s.highpass_hz:
            if self._response is None or self._response[0] != rate:
                self._response = (rate, impulse_response(*butter_highpass(5, s.highpass_hz, rate)))
            mono = apply_filter(mono, self._response[1])
        return Audio(mono[:, None], rate)

    def spans(self, audio: Audio) -> list[tuple[int, int, bool]]:
        """Every piece ``(begin, end, kept)`` in order (dropped ones too, so numbering is stable)."""
        s, rate = self.settings, audio.sample_rate
        mono = audio.samples[:, 0]
        spans = []
        for begin, end in kept_parts(len(mono), mono, s, rate):
            for a, b in fixed_pieces(begin, end, s, rate):
                seconds = (b - a) / rate
                kept = seconds >= s.min_piece_seconds and (s.max_piece_seconds is None
                                                            or seconds <= s.max_piece_seconds)
                if kept and s.max_peak is not None:
                    kept = float(np.max(np.abs(mono[a:b]))) <= s.max_peak
                spans.append((a, b, kept))
        return spans

    def pieces(self, source: Audio) -> list[Piece]:
        """The kept pieces; :class:`NothingKept` (saying why) when the take has parts but every one is dropped."""
        audio = self.prepare(source)
        spans = self.spans(audio)
        rate = audio.sample_rate
        pieces = [Piece(k, Audio(audio.samples[a:b].copy(), rate), a, b, source_span(source, a, b, rate))
                  for k, (a, b, kept) in enumerate(spans) if kept]
        if spans and not pieces:
            raise NothingKept(self.why_dropped(audio, spans))
        return pieces

    def why_dropped(self, audio: Audio, spans: list[tuple[int, int, bool]]) -> str:
        s, rate, mono = self.settings, audio.sample_rate, audio.samples[:, 0]
        peak = max(float(np.max(np.abs(mono[a:b]))) for a, b, _ in spans)
        if s.max_peak is not None and peak > s.max_peak:
            return (f"every piece peaks above slice.max_peak {s.max_peak:g} (the loudest at {peak:.3g}): the take is "
                    "clipped or not normalised; lower its gain, or raise slice.max_peak")
        longest = max(b - a for a, b, _ in spans) / rate
        return (f"every piece is outside [{s.min_piece_seconds:g}, {s.max_piece_seconds or float('inf'):g}] s "
                f"(the longest is {longest:.2f} s); change slice.min_piece_seconds / max_piece_seconds")
