"""One streaming read of one file: every weight-free measure of the report from a single pass over its blocks, in
memory that does not grow with the file (blocks of 10 s, meters of fixed size)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.audio.stream import read_blocks, stream_info
from svcprep.report.bandwidth import StreamingBandwidth
from svcprep.report.dnsmos import StreamingDnsmos
from svcprep.report.f0_range import SAMPLE_RATE as F0_SAMPLE_RATE
from svcprep.report.f0_range import StreamingF0Range
from svcprep.report.levels import StreamingLevels
from svcprep.report.loudness import StreamingLoudness


@dataclass(frozen=True)
class PassSettings:
    clip_level: float
    silence_dbfs: float
    with_pitch: bool
    with_dnsmos: bool = False


@dataclass
class ClipMeasures:
    """The per-clip columns of ``report.json`` (``values``), and what the report aggregates across clips: the
    voiced frames per 10-cent F0 bin and a hash of the decoded samples (duplicates)."""

    values: dict[str, Any]
    f0_histogram: np.ndarray | None = None
    samples_sha256: str = ""
    audio_seconds: float = 0.0


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def measure_clip(path: Path, settings: PassSettings,
                 on_block: Callable[[float], None] | None = None) -> ClipMeasures:
    """Read ``path`` once, block by block, at its own rate and channels (``on_block(seconds)`` after each block:
    progress within the file); raises :class:`AudioLoadError` (and ``ValueError`` for more than five channels)
    for a file that cannot be measured."""
    import soxr

    _, sample_rate, channels = stream_info(path)
    levels = StreamingLevels(sample_rate, channels, settings.clip_level)
    loudness = StreamingLoudness(sample_rate, channels)
    bandwidth = StreamingBandwidth(sample_rate)
    f0_range = StreamingF0Range() if settings.with_pitch else None
    dnsmos = StreamingDnsmos() if settings.with_dnsmos else None
    to_16k = None  # the tracker and DNSMOS both read 16 kHz mono
    if (f0_range is not None or dnsmos is not None) and sample_rate != F0_SAMPLE_RATE:
        to_16k = soxr.ResampleStream(sample_rate, F0_SAMPLE_RATE, 1, dtype="float64", quality="HQ")
    digest = hashlib.sha256(f"{sample_rate}:{channels}:".encode())
    blocks = read_blocks(path, sample_rate, channels)
    block = next(blocks, None)
    while block is not None:
        following = next(blocks, None)
        digest.update(np.ascontiguousarray(block.T).tobytes())
        levels.update(block)
        loudness.update(block)
        mono = block.mean(axis=0, dtype=np.float64)
        bandwidth.update(mono)
        if f0_range is not None or dnsmos is not None:
            mono_16k = mono if to_16k is None else to_16k.resample_chunk(mono, last=following is None)
            for meter in (f0_range, dnsmos):
                if meter is not None:
                    meter.update(mono_16k)
        if on_block is not None:
            on_block(block.shape[1] / sample_rate)
        block = following
    levels.finish()
    bandwidth.finish()
    if f0_range is not None:
        f0_range.finish()
    low, high = f0_range.range_hz() if f0_range is not None else (None, None)
    seconds = levels.num_samples / sample_rate
    values = {
        "seconds": round(seconds, 4),
        "sample_rate": sample_rate,
        "channels": channels,
        "peak_dbfs": _rounded(levels.peak_dbfs(), 3),
        "clipped_fraction": round(levels.clipped_fraction(), 8),
        "lufs": loudness.lufs(),  # unrounded: the library's value
        "silence_fraction": _rounded(levels.silence_fraction(settings.silence_dbfs), 4),
        "dc_offset": round(levels.dc_offset(), 6),
        "bandwidth_hz": _rounded(bandwidth.bandwidth_hz(), 1),
        "snr_db": _rounded(levels.snr_db(), 2),
        "f0_min_hz": _rounded(low, 1),
        "f0_max_hz": _rounded(high, 1),
        "voiced_fraction": _rounded(f0_range.voiced_fraction(), 4) if f0_range is not None else None,
    }
    if dnsmos is not None:
        values.update({column: None if score is None else round(score, 4)
                       for column, score in dnsmos.scores().items()})
    if values["lufs"] is not None and not np.isfinite(values["lufs"]):
        values["lufs"] = None  # silence: no loudness (JSON has no -inf)
    return ClipMeasures(values, f0_range.histogram if f0_range is not None else None, digest.hexdigest(),
                        seconds)
