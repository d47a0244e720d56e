"""``report.json``: the clips with their measures and flags (duplicates decided across clips), and per singer the
totals, the clip-length distribution and the F0 histogram."""

from __future__ import annotations

from typing import Any

import numpy as np

from svcprep import __version__
from svcprep.report.f0_range import CENTS_PER_BIN, bin_edges_hz, range_of
from svcprep.report.flags import FLAGS, Thresholds, TrainerLimits, clip_flags

CLIP_SECONDS_EDGES = (0.0, 0.3, 0.75, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)  # the last bin holds everything longer
F0_HISTOGRAM_CENTS = 100  # per singer: one bin per semitone
FRAME_SECONDS = 0.01  # the F0 tracker's time step: a voiced frame is 10 ms of voiced singing


def mark_duplicates(clips: list[dict[str, Any]], hashes: dict[str, str]) -> None:
    """Every clip whose decoded samples (rate and channels included) equal an earlier clip's, in uid order, is a
    duplicate of the first."""
    first: dict[str, str] = {}
    for clip in sorted(clips, key=lambda c: c["uid"]):
        digest = hashes.get(clip["uid"])
        if digest is None:
            continue
        if digest in first:
            clip["duplicate_of"] = first[digest]
            clip["flags"].append("duplicate")
        else:
            first[digest] = clip["uid"]


def _coarse(histogram: np.ndarray) -> list[int]:
    group = F0_HISTOGRAM_CENTS // CENTS_PER_BIN
    padded = np.concatenate([histogram, np.zeros(-len(histogram) % group, dtype=histogram.dtype)])
    return padded.reshape(-1, group).sum(axis=1).tolist()


class Collected:
    """What the report keeps of each measured clip as it arrives: its row, the hash of its samples, and its voiced
    frames added into its singer's F0 histogram (a clip's own histogram is not kept)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.hashes: dict[str, str] = {}
        self.singer_f0: dict[str, np.ndarray] = {}

    def add(self, clip: Any, measures: Any) -> None:
        self.rows.append({"uid": clip.uid, "path": str(clip.path), "singer": clip.singer, **measures.values})
        self.hashes[clip.uid] = measures.samples_sha256
        histogram = self.singer_f0.setdefault(clip.singer, np.zeros(len(bin_edges_hz()) - 1, dtype=np.int64))
        if measures.f0_histogram is not None:
            histogram += measures.f0_histogram


def singer_totals(clips: list[dict[str, Any]], singer_f0: dict[str, np.ndarray]) -> dict[str, Any]:
    singers: dict[str, Any] = {}
    edges = bin_edges_hz(F0_HISTOGRAM_CENTS)
    for name in sorted({c["singer"] for c in clips}):
        mine = [c for c in clips if c["singer"] == name]
        lengths = np.array([c["seconds"] for c in mine])
        histogram = singer_f0[name]
        low, high = range_of(histogram)
        counts, _ = np.histogram(lengths, bins=[*CLIP_SECONDS_EDGES, max(float(lengths.max()), 60.0) + 1.0])
        singers[name] = {
            "clips": len(mine),
            "seconds": round(float(lengths.sum()), 3),
            "minutes": round(float(lengths.sum()) / 60.0, 3),
            "flagged_clips": sum(1 for c in mine if c["flags"]),
            "clip_seconds": {"min": round(float(lengths.min()), 3), "median": round(float(np.median(lengths)), 3),
                             "max": round(float(lengths.max()), 3),
                             "histogram": {"edges": [*CLIP_SECONDS_EDGES, None], "counts": counts.tolist()}},
            "voiced_seconds": round(float(histogram.sum()) * FRAME_SECONDS, 2),
            "f0_min_hz": None if low is None else round(low, 1),
            "f0_max_hz": None if high is None else round(high, 1),
            "f0_histogram": {"edges_hz": [round(float(e), 2) for e in edges],
                             "voiced_seconds": [round(n * FRAME_SECONDS, 2) for n in _coarse(histogram)]},
        }
    return singers


def build_report(source: Any, collected: Collected, failures: list[dict[str, str]], thresholds: Thresholds,
                 limits: TrainerLimits, with_pitch: bool, with_dnsmos: bool = False) -> dict[str, Any]:
    clips = sorted(collected.rows, key=lambda row: row["uid"])
    for row in clips:
        row["flags"] = clip_flags(row, thresholds)
    mark_duplicates(clips, collected.hashes)
    for row in clips:
        row["flags"].sort(key=FLAGS.index)
    counts = {flag: sum(1 for c in clips if flag in c["flags"]) for flag in FLAGS}
    return {
        "svcprep_version": __version__,
        "source": {"kind": source.kind, "path": str(source.root), "trainer": source.trainer},
        "limits": {"trainer": limits.name, "why": limits.why},
        "thresholds": thresholds.to_dict(),
        "pitch": with_pitch,
        "dnsmos": with_dnsmos,
        "totals": {"clips": len(clips), "seconds": round(sum(c["seconds"] for c in clips), 3),
                   "flagged_clips": sum(1 for c in clips if c["flags"]), "flags": counts,
                   "failed": len(failures)},
        "clips": clips,
        "singers": singer_totals(clips, collected.singer_f0),
        "failures": failures,
    }
