"""``svcprep align``: align feature files that already exist on disk to the mels beside them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from svcprep.align.grid import FrameGrid
from svcprep.align.methods import align_features
from svcprep.errors import SvcprepError
from svcprep.fileio import atomic_write, read_npy_header
from svcprep.pipeline.summary import RunSummary
from svcprep.store.bookkeeping import FailureLog
from svcprep.store.codecs import CODECS


def feature_uids(features_dir: Path) -> list[str]:
    """Every ``<uid>.npy`` below ``features_dir`` (uid = relative path without ``.npy``), sorted; read once."""
    return sorted(
        p.relative_to(features_dir).with_suffix("").as_posix()
        for p in features_dir.rglob("*.npy")
        if not p.name.startswith((".", "_"))
    )


def align_directory(
    features_dir: Path,
    mels_dir: Path,
    out_dir: Path,
    *,
    source: FrameGrid,
    target: FrameGrid,
    mel_time_axis: int,
    method: str = "area",
    tolerance: int = 4,
    on_progress: Callable[[str], None] | None = None,
    uids: list[str] | None = None,
) -> RunSummary:
    """Align each feature file to the frame count of its mel; failures are logged, never fatal. ``uids``: the
    feature files (default: :func:`feature_uids` of ``features_dir``)."""
    summary = RunSummary(out=out_dir)
    failures = FailureLog(out_dir / "_failures.jsonl")
    npy = CODECS["npy"]
    for uid in feature_uids(features_dir) if uids is None else uids:
        out_path = out_dir / f"{uid}.npy"
        try:
            if out_path.is_file():
                summary.skipped += 1
                continue
            mel_path = mels_dir / f"{uid}.npy"
            if not mel_path.is_file():
                raise SvcprepError(f"no mel at {mel_path}; run `svcprep mel` first or check --mels")
            mel_shape, _ = read_npy_header(mel_path)
            if len(mel_shape) != 2:
                raise SvcprepError(f"mel {mel_path} has shape {mel_shape}; expected 2-D")
            feats = np.load(features_dir / f"{uid}.npy", allow_pickle=False)
            if feats.ndim != 2:
                raise SvcprepError(f"features have shape {feats.shape}; expected (T, D)")
            aligned = align_features(
                feats,
                source_hop=source.hop_length,
                source_sample_rate=source.sample_rate,
                target_hop=target.hop_length,
                target_sample_rate=target.sample_rate,
                target_len=mel_shape[mel_time_axis],
                method=method,
                tolerance=tolerance,
            )
            atomic_write(out_path, lambda f, a=aligned: npy.encode(a, f))
            summary.done += 1
        except (SvcprepError, OSError, ValueError) as exc:
            record = {"uid": uid, "path": str(features_dir / f"{uid}.npy"), "stage": "align", "reason": str(exc)}
            failures.append(record)
            summary.failures.append(record)
            summary.failed += 1
        finally:
            if on_progress:
                on_progress(uid)
    return summary
