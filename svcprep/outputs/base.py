"""The output contract, the audio an output asks for, and the frame grid its rows are on."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from svcprep.audio.views import RAW, View
from svcprep.ids import EntryId
from svcprep.outputs.records import FileRecord, FramesRecord, GridRecord, OutputRecord


@dataclass(frozen=True)
class AudioRequest:
    """Mono (or ``channels``) audio of ``view`` at ``sample_rate`` (``None``: the view's own rate), resampled with
    ``length_rule``."""

    sample_rate: int | None
    channels: int = 1
    view: View = RAW
    length_rule: str = "soxr"


@dataclass(frozen=True)
class OutputGrid:
    """Rows on the frames of ``audio``: ``num_samples // hop_length`` of them (``+ 1`` with ``plus_one``), frame
    ``i`` at time ``(i + offset) · hop_length / sample_rate``.

    ``offset = 1/2``: the centre of a frame spanning ``[i·hop, (i+1)·hop)`` (a mel reflect-padded by
    ``(n_fft - hop) / 2``); ``offset = 0``: frames centred on ``i·hop`` (``center=True`` STFTs, DDSP-SVC).
    """

    audio: AudioRequest
    hop_length: int
    plus_one: bool = False
    offset: Fraction = Fraction(1, 2)

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length + int(self.plus_one)

    def times(self, num_frames: int) -> np.ndarray:
        return (np.arange(num_frames) + float(self.offset)) * self.hop_length / self.sample_rate

    def record(self) -> GridRecord:
        return GridRecord(self.sample_rate, self.hop_length)

    def frames_from_audio(self, audio_file: str) -> FramesRecord:
        """Rows derived from a stored audio file's length (what a trainer that loads the audio computes)."""
        return FramesRecord(audio_file, 0, self.hop_length, self.plus_one)


@dataclass(frozen=True)
class ModelRequest:
    """A model run on the device in batches, on ``audio`` (its rate and channels): an extractor or a tracker,
    resolved but not loaded. Requests with the same key share one forward pass; requests of the same model on
    other audio share one loaded model."""

    resolved: Any  # ResolvedExtractor | ResolvedTracker: .spec, .model_key, .load()
    audio: AudioRequest

    @property
    def spec(self):
        return self.resolved.spec

    @property
    def key(self) -> tuple:
        return (self.resolved.model_key, self.audio)


class Output:
    """One output: a set of files per uid, computed from audio (decode stage) and/or a model's output.

    Subclasses set ``name`` and ``files`` and override what they need. ``decode`` runs in decode workers (CPU;
    it may use :meth:`DecodeContext.product` to share work such as a mel between outputs) and returns what
    ``finish`` needs; ``finish`` runs in the main process with that and the model's native output, and returns
    ``{file name: value}`` for the store.
    """

    kind: ClassVar[str] = ""
    stage: ClassVar[str] = ""  # the failure stage of this output's own work
    _kinds: ClassVar[dict[str, type[Output]]] = {}  # kind -> the first class defined with it

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Output._kinds.setdefault(cls.kind, cls)

    @classmethod
    def of_kind(cls, kind: str) -> type[Output]:
        """The class whose :meth:`check_files` checks a recorded output of ``kind`` (this base: no check)."""
        return Output._kinds.get(kind, Output)

    @classmethod
    def check_files(cls, record: OutputRecord, arrays: dict[str, Any], expected_rows: int | None) -> str | None:
        """For ``verify``: what is wrong with one uid's files (``arrays``: file name -> value as read), given the
        rows its reference file says they must have (``None``: unknown); ``None`` when nothing is. The dtype,
        finiteness and the sha256 are checked for every kind before this."""
        return None

    @classmethod
    def width(cls, record: OutputRecord, arrays: dict[str, Any]) -> int | None:
        """The feature width of one uid's files, when every uid of the output must share it."""
        return None
    model_stage: ClassVar[str] = "extract"  # the failure stage when its model fails on a clip
    name: str
    files: tuple[FileRecord, ...]

    @property
    def model(self) -> ModelRequest | None:
        return None

    def audio_requests(self) -> tuple[AudioRequest, ...]:
        """Audio the decode stage must make for this output (a model's input is added by the run)."""
        return ()

    def frame_requests(self) -> tuple[AudioRequest, ...]:
        """Audio whose length ``finish`` needs (the decode stage reports it)."""
        return ()

    def decode(self, clip: Any) -> Any:
        return None

    def can_stream(self, model: Any = None) -> bool:
        """Whether :meth:`row_stream` can compute this output a window at a time (a file longer than memory), with
        ``model``, the loaded model of :attr:`model`."""
        return False

    def row_stream(self, source: Any, model: Any) -> Any:
        """The output of one long file as a :class:`~svcprep.outputs.windows.RowStream` (``source``: its
        :class:`~svcprep.outputs.windows.StreamSource`; ``model``: the loaded model of :attr:`model`)."""
        raise NotImplementedError

    def finish(self, clip: Any, partial: Any, native: Any) -> dict[str, Any]:
        raise NotImplementedError

    def record(self) -> OutputRecord:
        raise NotImplementedError


@dataclass
class ClipInfo:
    """What ``finish`` knows of a clip: its id, source, length per audio request, and frame counts fixed by
    files already on disk (``frames``: file name → rows)."""

    id: EntryId
    path: Any
    seconds: float
    num_samples: dict[AudioRequest, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return str(self.id)
