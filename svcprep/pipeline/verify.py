"""``svcprep verify``: check a whole output dir against its mels and its own records.

For every output with a record in ``OUT/.svcprep/`` (and ``mels/``): each uid with a mel has the file; files
read (a truncated ``.npy`` does not); rows equal the mel frame count (aligned outputs, pitches, uvs, energys)
or cover it within the recorded tolerance on the recorded native grid (``*_native``); widths and dtypes
agree with the record and across files; values are finite; voicing equals ``pitch != 0``; every uid in a
done-list has its file. When present, ``mel_min_max_stats`` must equal the extrema of the mels and
``pitches/statistics.json`` must hold finite numbers for every singer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.align.grid import FrameGrid, target_frames_covered
from svcprep.pipeline.layout import ENERGYS, MELS, PITCHES, UVS, OutputLayout
from svcprep.pipeline.provenance import DoneList, read_meta, settings_key

MAX_LISTED = 5


@dataclass
class OutputCheck:
    name: str
    files: int = 0
    ok: int = 0
    hours: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (uid, what)

    def problem(self, uid: str, what: str) -> None:
        self.problems.append((uid, what))

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.name, "files": self.files, "ok": self.ok, "hours": round(self.hours, 4),
                "problems": [{"uid": u, "problem": p} for u, p in self.problems]}


def _uids(directory: Path) -> set[str]:
    return {p.relative_to(directory).with_suffix("").as_posix() for p in directory.rglob("*.npy")}


def _load(path: Path) -> np.ndarray | str:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return f"unreadable ({exc.__class__.__name__}: {str(exc)[:80]})"


class Verifier:
    def __init__(self, out: Path) -> None:
        self.layout = OutputLayout(out)
        self.mel_meta = read_meta(self.layout, MELS) or {}
        preset = self.mel_meta.get("preset") or {}
        self.time_axis = 1 if preset.get("mel_layout", "mels_by_frames") == "mels_by_frames" else 0
        self.mel_grid = FrameGrid(preset["hop_length"], preset["sample_rate"]) if preset else None
        self.mel_frames: dict[str, int] = {}
        self.mel_low: np.ndarray | None = None  # per-bin extrema of the readable mels, kept as they are read
        self.mel_high: np.ndarray | None = None

    # -- outputs ----------------------------------------------------------------------------------
    def outputs(self) -> list[str]:
        recorded = sorted(p.name for p in self.layout.bookkeeping_dir.glob("*") if (p / "meta.json").is_file())
        if PITCHES in recorded:
            recorded.append(UVS)  # recorded under pitches
        names = [MELS] if self.layout.output_dir(MELS).is_dir() else []
        return names + [n for n in recorded if n != MELS and self.layout.output_dir(n).is_dir()]

    def check_mels(self) -> OutputCheck:
        check = OutputCheck(MELS)
        directory = self.layout.output_dir(MELS)
        n_mels = (self.mel_meta.get("preset") or {}).get("n_mels")
        present = _uids(directory)
        for uid in sorted(present):
            check.files += 1
            mel = _load(self.layout.file(MELS, uid))
            if isinstance(mel, str):
                check.problem(uid, mel)
                continue
            if mel.ndim != 2 or (n_mels and mel.shape[1 - self.time_axis] != n_mels):
                check.problem(uid, f"shape {mel.shape} is not ({n_mels} mel bins × frames)")
                continue
            if not np.isfinite(mel).all():
                check.problem(uid, "NaN or infinite values")
                continue
            self.mel_frames[uid] = mel.shape[self.time_axis]
            low, high = mel.min(axis=self.time_axis), mel.max(axis=self.time_axis)
            self.mel_low = low if self.mel_low is None else np.minimum(self.mel_low, low)
            self.mel_high = high if self.mel_high is None else np.maximum(self.mel_high, high)
            check.hours += self._hours(uid)
            check.ok += 1
        self._check_done_list(check, present)
        return check

    def check_output(self, name: str) -> OutputCheck:
        check = OutputCheck(name)
        meta = read_meta(self.layout, PITCHES if name == UVS else name) or {}
        directory = self.layout.output_dir(name)
        present = _uids(directory)
        for uid in sorted(set(self.mel_frames) - present):
            check.problem(uid, f"missing: the mel exists, {name}/{uid}.npy does not")
        dims, dtypes = set(), set()
        for uid in sorted(present):
            check.files += 1
            array = _load(self.layout.file(name, uid))
            if isinstance(array, str):
                check.problem(uid, array)
                continue
            what = self._check_array(name, meta, uid, array)
            if what:
                check.problem(uid, what)
                continue
            dims.add(array.shape[1:])
            dtypes.add(str(array.dtype))
            check.ok += 1
            check.hours += self._hours(uid)
        if len(dims) > 1 or len(dtypes) > 1:
            check.problem("*", f"files disagree: widths {sorted(dims)}, dtypes {sorted(dtypes)}")
        self._check_done_list(check, present, meta)
        return check

    def _hours(self, uid: str) -> float:
        if self.mel_grid is None or uid not in self.mel_frames:
            return 0.0
        return float(self.mel_grid.seconds(self.mel_frames[uid])) / 3600

    def _check_array(self, name: str, meta: dict[str, Any], uid: str, array: np.ndarray) -> str | None:
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            return "NaN or infinite values"
        frames = self.mel_frames.get(uid)
        if name in (PITCHES, UVS, ENERGYS):
            if array.ndim != 1 or (frames is not None and array.shape[0] != frames):
                return f"shape {array.shape}, the mel has {frames} frames"
            if name == PITCHES:
                if (array < 0).any():
                    return "negative F0"
                uv_path = self.layout.file(UVS, uid)
                uv = _load(uv_path) if uv_path.is_file() else None
                if isinstance(uv, np.ndarray) and (uv.shape != array.shape or (uv != (array != 0)).any()):
                    return "uvs disagrees with pitch != 0"
            return None
        if array.ndim != 2 or ("dim" in meta and array.shape[1] != meta["dim"]):
            return f"shape {array.shape}, the record says (frames, {meta.get('dim')})"
        recorded_dtype = meta.get("save_dtype")
        if recorded_dtype and np.issubdtype(array.dtype, np.floating) and str(array.dtype) != recorded_dtype:
            return f"dtype {array.dtype}, the record says {recorded_dtype}"
        if frames is None:
            return None
        if meta.get("target_grid") is not None:  # aligned to the mels
            if array.shape[0] != frames:
                return f"{array.shape[0]} rows, the mel has {frames} frames"
            return None
        native = meta.get("native_grid")
        if native and self.mel_grid is not None:
            covered = target_frames_covered(array.shape[0], FrameGrid(native["hop_length"], native["sample_rate"]),
                                            self.mel_grid)
            tolerance = int(meta.get("tolerance") or 4)
            if abs(covered - frames) > tolerance:
                return (f"{array.shape[0]} native frames cover {covered} mel frames, the mel has {frames} "
                        f"(another grid or another audio?)")
        return None

    def _check_done_list(self, check: OutputCheck, present: set[str], meta: dict[str, Any] | None = None) -> None:
        meta = meta if meta is not None else self.mel_meta
        if not meta:
            return
        recorded_as = PITCHES if check.name == UVS else check.name
        done = DoneList(self.layout.done_dir(recorded_as, settings_key(meta)), "verify").load()
        for uid in sorted(done - present)[:MAX_LISTED]:
            check.problem(uid, "recorded as done but the file is missing")

    # -- statistics ---------------------------------------------------------------------------------
    def check_statistics(self) -> OutputCheck | None:
        low_path, high_path = self.layout.mel_extremum("min"), self.layout.mel_extremum("max")
        stats_path = self.layout.pitch_statistics
        if not (low_path.is_file() or stats_path.is_file()):
            return None
        check = OutputCheck("statistics")
        if low_path.is_file() and self.mel_low is not None:
            check.files += 2
            low, high = _load(low_path), _load(high_path) if high_path.is_file() else "missing"
            if isinstance(low, str) or isinstance(high, str):
                check.problem("mel_min_max_stats", f"unreadable or missing: {low if isinstance(low, str) else high}")
            else:
                if low.shape != self.mel_low.shape or not (np.array_equal(low, self.mel_low)
                                                           and np.array_equal(high, self.mel_high)):
                    check.problem("mel_min_max_stats", "differs from the extrema of the mels (rerun svcprep stats)")
                else:
                    check.ok += 2
        if stats_path.is_file():
            check.files += 1
            try:
                statistics = json.loads(stats_path.read_text(encoding="utf-8"))
                for singer, parts in statistics.items():
                    for part in ("voiced_positions", "total_positions"):
                        values = [parts[part][k] for k in ("mean", "std", "median", "min", "max")]
                        if part == "total_positions" and not all(np.isfinite(v) for v in values):
                            check.problem(singer, f"{part} holds a non-finite value")
                check.ok += 1
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                check.problem("pitches/statistics.json", f"not in Amphion's format: {exc}")
        return check


def verify_output_dir(out: Path) -> list[OutputCheck]:
    verifier = Verifier(out)
    checks = []
    for name in verifier.outputs():
        checks.append(verifier.check_mels() if name == MELS else verifier.check_output(name))
    statistics = verifier.check_statistics()
    if statistics is not None:
        checks.append(statistics)
    return checks


def describe(checks: list[OutputCheck]) -> str:
    lines = [f"{'output':<22} {'files':>7} {'ok':>7} {'hours':>8}  problems"]
    for c in checks:
        listed = "; ".join(f"{uid}: {what}" for uid, what in c.problems[:MAX_LISTED])
        more = f" (+{len(c.problems) - MAX_LISTED} more)" if len(c.problems) > MAX_LISTED else ""
        lines.append(f"{c.name:<22} {c.files:>7} {c.ok:>7} {c.hours:>8.3f}  {listed or '-'}{more}")
    return "\n".join(lines)
