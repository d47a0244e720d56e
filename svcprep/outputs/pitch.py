"""F0 on an output's frame grid, from a CPU tracker (decode stage) or a neural one (model device), written in the
convention of the project that reads it (a subclass's :meth:`PitchOutput.files_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from svcprep import __version__
from svcprep.outputs.base import AudioRequest, ModelRequest, Output, OutputGrid
from svcprep.outputs.common import view_settings
from svcprep.outputs.records import FileRecord, FramesRecord, OutputRecord
from svcprep.outputs.spectral import rows_problem
from svcprep.outputs.windows import FileShape, RowStream, StreamSource, cpu_pitch_rows, neural_pitch_rows
from svcprep.pitch.settings import PitchSettings, check_backend
from svcprep.pitch.tracking import sample_track, track_on_grid

MAX_F0_HZ = 20000.0
# Trackers whose windowed F0 equals the whole-file one (svcprep.outputs.windows); WORLD's dio and harvest decide
# over the whole signal in ways context does not reproduce, so their files are computed whole.
WINDOWED_TRACKERS = ("parselmouth",)


@dataclass(frozen=True)
class PitchOutput(Output):
    """F0 at ``grid``'s frame times. ``tracker``: the neural tracker's request (``None`` for CPU methods, which
    run on ``grid.audio`` with the grid's hop as their time step). ``frames_file``: a file already on disk that
    fixes the row count (Amphion: the mel), else the grid's count of the audio."""

    kind = "pitch"
    rows_per_frame: ClassVar[bool] = False  # files_for maps each frame's F0 to that frame's rows alone

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        """The reference's frame count, F0 within 0..20 kHz, and a voicing file that equals ``F0 != 0``."""
        array = arrays[record.files[0].name]
        problem = rows_problem(array, expected_rows)
        if problem or array.dtype == object:
            return problem
        f0 = array.astype(np.float64)
        if (f0 < 0).any() or (f0 > MAX_F0_HZ).any():
            return f"F0 spans [{f0.min():.3g}, {f0.max():.3g}] Hz: outside 0..{MAX_F0_HZ:g}"
        for file in record.files[1:]:
            voicing = arrays[file.name]
            if file.dtype == "bool" and (voicing.shape != f0.shape or (voicing != (f0 != 0)).any()):
                return f"{file.name} disagrees with F0 != 0"
        return None
    stage = "pitch"
    model_stage = "pitch"
    name: str
    grid: OutputGrid
    settings: PitchSettings
    tracker: ModelRequest | None = None
    tracker_sha256: str | None = None
    frames: FramesRecord | None = None
    frames_file: str | None = None

    @property
    def files(self) -> tuple[FileRecord, ...]:
        raise NotImplementedError

    @property
    def model(self) -> ModelRequest | None:
        return self.tracker

    def check(self) -> None:
        """The CPU tracker's package is installed (a usage error naming the extra, before anything runs)."""

        check_backend(self.settings.method)

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        return () if self.tracker is not None else (self.grid.audio,)

    def frame_requests(self) -> tuple[AudioRequest, ...]:
        return (self.grid.audio,)

    def num_frames(self, clip: Any) -> int:
        if self.frames_file and self.frames_file in clip.frames:
            return clip.frames[self.frames_file]
        return self.grid.num_frames(clip.num_samples[self.grid.audio])

    def decode(self, clip: Any) -> Any:
        if self.tracker is not None:
            return None

        wav = clip.audio(self.grid.audio)
        times = self.grid.times(self.num_frames(clip))
        return track_on_grid(wav, self.grid.sample_rate, self.grid.hop_length, times, self.settings)

    def can_stream(self, model: Any = None) -> bool:
        if self.tracker is not None:
            windowed = hasattr(model, "mel_chunks") and StreamSource.streamable(self.tracker.audio)
        else:
            windowed = self.settings.method in WINDOWED_TRACKERS and self.settings.grid != "amphion"
        return (windowed and self.rows_per_frame and StreamSource.streamable(self.grid.audio)
                and all(f.codec == "npy" for f in self.files))

    def row_stream(self, source: StreamSource, model: Any) -> RowStream:
        if self.frames_file and self.frames_file in source.frames:
            num_rows = source.frames[self.frames_file]
        else:
            num_rows = self.grid.num_frames(source.num_samples(self.grid.audio))
        files = {f.name: FileShape((num_rows,), f.dtype) for f in self.files}
        if self.tracker is not None:
            f0_rows = neural_pitch_rows(source, model, self.tracker.audio, self.grid, num_rows)
        else:
            f0_rows = cpu_pitch_rows(source, self.grid, num_rows, self.settings)
        blocks = ({name: (first, rows) for name, rows in self.files_for(f0).items()} for first, f0 in f0_rows)
        return RowStream(files, blocks, self.grid.hop_length / self.grid.sample_rate)

    def f0_on_grid(self, clip: Any, partial: Any, native: Any) -> np.ndarray:
        """``(T,)`` F0 in Hz at the grid's frame times, 0 where unvoiced."""
        if self.tracker is None:
            return partial

        native_times = self.tracker.resolved.frame_times(len(native))
        return sample_track(native_times, native, self.grid.times(self.num_frames(clip))).astype(np.float32)

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        return self.files_for(self.f0_on_grid(clip, partial, native))

    def files_for(self, f0: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def record_settings(self) -> dict[str, Any]:
        settings = {"pitch": self.settings.to_dict(), "view": view_settings(self.grid.audio.view),
                    "offset": str(self.grid.offset), "plus_one": self.grid.plus_one}
        if self.tracker is not None:
            settings["tracker_sha256"] = self.tracker_sha256
        return settings

    def record(self) -> OutputRecord:
        return OutputRecord(self.name, self.kind, self.files, self.record_settings(), grid=self.grid.record(),
                            frames=self.frames, svcprep_version=__version__)
