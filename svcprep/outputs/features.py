"""Model features: aligned to an output grid (Amphion's mel, DDSP-SVC's frames), or kept at the model's rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from svcprep import __version__
from svcprep.align.grid import FrameGrid, target_frames_covered
from svcprep.align.methods import AVERAGING_METHODS, align_features, check_coverage
from svcprep.errors import AlignmentError
from svcprep.outputs.base import ModelRequest, Output, OutputGrid
from svcprep.outputs.common import to_save_dtype, view_settings
from svcprep.outputs.records import FileRecord, FramesRecord, GridRecord, OutputRecord
from svcprep.outputs.windows import (
    FileShape,
    RowStream,
    StreamSource,
    aligned_feature_rows,
    chunks_long_audio,
    native_feature_rows,
)


def model_settings(request: ModelRequest, sha256: str | None) -> dict[str, Any]:
    resolved = request.resolved
    return {"extractor": resolved.entry.name, "model": resolved.model, "checkpoint_sha256": sha256,
            "options": dict(sorted(resolved.settings.items())), "view": view_settings(request.audio.view),
            "length_rule": request.audio.length_rule}


class FeatureFiles:
    """``verify``'s checks of feature files, aligned or native."""

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        return check_feature_files(record, arrays, expected_rows)

    @classmethod
    def width(cls, record: OutputRecord, arrays: dict[str, Any]) -> int | None:
        return feature_width(record, arrays)


@dataclass(frozen=True)
class AlignedFeature(FeatureFiles, Output):
    """``(T, D)`` features aligned to ``grid``'s frame count by ``method`` (``area``, ``nearest``, ``linear``,
    ``repeat``); a length mismatch of at most ``tolerance`` frames repeats the last frame."""

    kind = "feature"
    stage = "align"
    name: str
    request: ModelRequest
    grid: OutputGrid
    method: str = "area"
    tolerance: int = 4
    save_dtype: str = "float32"
    dtype: str = "float32"  # the model's compute dtype
    checkpoint_sha256: str | None = None
    frames: FramesRecord | None = None
    frames_file: str | None = None
    file: str = ""

    @property
    def files(self) -> tuple[FileRecord, ...]:
        integer = self.request.spec.integer_output
        return (FileRecord(self.file or self.name, "npy", "int64" if integer else self.save_dtype, "(T, D)"),)

    @property
    def model(self) -> ModelRequest:
        return self.request

    def frame_requests(self):
        return (self.grid.audio,)

    def can_stream(self, model: Any = None) -> bool:
        return (chunks_long_audio(model) and StreamSource.streamable(self.request.audio)
                and StreamSource.streamable(self.grid.audio))

    def row_stream(self, source: StreamSource, model: Any) -> RowStream:
        spec = self.request.spec
        if self.frames_file and self.frames_file in source.frames:
            target = source.frames[self.frames_file]
        else:
            target = self.grid.num_frames(source.num_samples(self.grid.audio))
        native_grid, target_grid = FrameGrid(spec.hop_length, spec.sample_rate), FrameGrid(self.grid.hop_length,
                                                                                            self.grid.sample_rate)
        num_native, native = native_feature_rows(source, model, self.request)
        check_coverage(num_native, native_grid, target_grid, target, self.tolerance)
        if spec.integer_output and self.method in AVERAGING_METHODS:
            raise AlignmentError(f"method {self.method!r} averages frames, which is meaningless for codes")
        name, file = self.files[0].name, self.files[0]
        blocks = ({name: (first, to_save_dtype(rows, self.save_dtype))} for first, rows in
                  aligned_feature_rows(native, num_native, native_grid, target_grid, target, self.method))
        return RowStream({name: FileShape((target, spec.dim), file.dtype)}, blocks,
                         self.grid.hop_length / self.grid.sample_rate)

    def finish(self, clip: Any, partial: Any, native: np.ndarray) -> dict[str, Any]:
        spec = self.request.spec
        if self.frames_file and self.frames_file in clip.frames:
            target = clip.frames[self.frames_file]
        else:
            target = self.grid.num_frames(clip.num_samples[self.grid.audio])
        aligned = align_features(native, source_hop=spec.hop_length, source_sample_rate=spec.sample_rate,
                                 target_hop=self.grid.hop_length, target_sample_rate=self.grid.sample_rate,
                                 target_len=target, method=self.method, tolerance=self.tolerance)
        return {self.files[0].name: to_save_dtype(aligned, self.save_dtype)}

    def record(self) -> OutputRecord:
        spec = self.request.spec
        settings = {**model_settings(self.request, self.checkpoint_sha256), "dtype": self.dtype,
                    "method": self.method, "save_dtype": self.save_dtype, "offset": str(self.grid.offset)}
        return OutputRecord(self.name, self.kind, self.files, settings, grid=self.grid.record(),
                            native_grid=GridRecord(spec.sample_rate, spec.hop_length), frames=self.frames, dim=spec.dim,
                            tolerance=self.tolerance, svcprep_version=__version__)


@dataclass(frozen=True)
class NativeFeature(FeatureFiles, Output):
    """Features at the model's own frame rate: ``(T, D)`` (``layout="TD"``) or ``(1, D, T)`` (``"1DT"``, so-vits-
    svc's ``.soft.pt``). ``reference_grid`` and ``tolerance``: the grid ``verify`` checks coverage against."""

    kind = "native_feature"
    stage = "extract"
    name: str
    request: ModelRequest
    save_dtype: str = "float32"
    dtype: str = "float32"
    checkpoint_sha256: str | None = None
    codec: str = "npy"
    layout: str = "TD"
    reference_grid: OutputGrid | None = None
    frames: FramesRecord | None = None
    tolerance: int | None = None
    file: str = ""

    @property
    def files(self) -> tuple[FileRecord, ...]:
        integer = self.request.spec.integer_output
        shape = "(T, D)" if self.layout == "TD" else "(1, D, T)"
        return (FileRecord(self.file or self.name, self.codec, "int64" if integer else self.save_dtype, shape),)

    @property
    def model(self) -> ModelRequest:
        return self.request

    def can_stream(self, model: Any = None) -> bool:
        return (chunks_long_audio(model) and self.codec == "npy" and self.layout == "TD"
                and StreamSource.streamable(self.request.audio))

    def row_stream(self, source: StreamSource, model: Any) -> RowStream:
        spec = self.request.spec
        num_native, native = native_feature_rows(source, model, self.request)
        name, file = self.files[0].name, self.files[0]
        blocks = ({name: (first, to_save_dtype(rows, self.save_dtype))} for first, rows in native)
        return RowStream({name: FileShape((num_native, spec.dim), file.dtype)}, blocks,
                         spec.hop_length / spec.sample_rate)

    def finish(self, clip: Any, partial: Any, native: np.ndarray) -> dict[str, Any]:
        array = to_save_dtype(native, self.save_dtype)
        if self.layout == "1DT":
            array = np.ascontiguousarray(array.T[None])
        return {self.files[0].name: array}

    def record(self) -> OutputRecord:
        spec = self.request.spec
        settings = {**model_settings(self.request, self.checkpoint_sha256), "dtype": self.dtype,
                    "save_dtype": self.save_dtype, "layout": self.layout}
        return OutputRecord(self.name, self.kind, self.files, settings,
                            grid=self.reference_grid.record() if self.reference_grid else None,
                            native_grid=GridRecord(spec.sample_rate, spec.hop_length), frames=self.frames, dim=spec.dim,
                            tolerance=self.tolerance, svcprep_version=__version__)


def check_feature_files(record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
    """``(frames, dim)`` (``(1, dim, frames)`` saved ``1DT``), not all zeros; rows equal the reference's frames, or
    for native-rate features cover them within the recorded tolerance on the recorded grids."""
    array = feature_rows(record, arrays)
    if array.ndim != 2 or (record.dim and array.shape[1] != record.dim):
        return f"shape {array.shape}, the record says (frames, {record.dim})"
    if np.issubdtype(array.dtype, np.floating) and array.size and not np.any(array):
        return "every value is zero (a feature never is)"
    if expected_rows is None:
        return None
    if record.kind == "feature" or record.native_grid is None or record.grid is None:
        return f"{array.shape[0]} rows, expected {expected_rows}" if array.shape[0] != expected_rows else None
    covered = target_frames_covered(array.shape[0], FrameGrid(record.native_grid.hop_length,
                                                              record.native_grid.sample_rate),
                                    FrameGrid(record.grid.hop_length, record.grid.sample_rate))
    if abs(covered - expected_rows) > int(record.tolerance or 0):
        return (f"{array.shape[0]} native frames cover {covered} frames of the reference, which has {expected_rows} "
                "(another grid or another audio?)")
    return None


def feature_rows(record: OutputRecord, arrays: dict[str, Any]) -> np.ndarray:
    array = arrays[record.files[0].name]
    return array[0].T if record.settings.get("layout") == "1DT" else array


def feature_width(record: OutputRecord, arrays: dict[str, Any]) -> int | None:
    """The width of a well-shaped feature file (others are reported by their shape, not their width)."""
    array = feature_rows(record, arrays)
    return array.shape[1] if array.ndim == 2 and (not record.dim or array.shape[1] == record.dim) else None
