"""Decode stage, in DataLoader workers (or Ray tasks): each file is decoded once and goes through the run's
corpus stages (a take cut into pieces, ...), and every audio form the pending outputs and models ask for is made
once per clip; the outputs' CPU work (mels, CPU pitch, volume, spectrograms) runs here too, beside the models in
the main process."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.audio.io import Audio, decode
from svcprep.corpus.entries import Span
from svcprep.corpus.scan import CorpusEntry
from svcprep.corpus.stages import StageChain, StageFailure
from svcprep.errors import SvcprepError
from svcprep.ids import EntryId
from svcprep.outputs.base import AudioRequest, ClipInfo
from svcprep.outputs.clip_audio import ClipAudio

# What an output's CPU work may raise for one clip without the run stopping (the clip's output fails).
CLIP_ERRORS = (SvcprepError, OSError, ValueError, RuntimeError, ArithmeticError, MemoryError)


@dataclass(frozen=True)
class WorkItem:
    """One corpus entry and what is pending for it: output names (``pending``), or, when the run has corpus
    stages, the uids each output has already done (the entries it becomes are known once it is decoded)."""

    entry: CorpusEntry
    pending: tuple[str, ...] = ()
    done_pieces: dict[str, frozenset[str]] | None = None
    frames: dict[str, int] = field(default_factory=dict)  # rows fixed by files already on disk
    made: Audio | None = None  # the audio of a synthetic entry (nothing to decode, no stage, views take it as is)


@dataclass
class DecodedClip:
    id: EntryId
    path: Path
    seconds: float = 0.0
    pending: tuple[str, ...] = ()  # outputs this clip still needs
    num_samples: dict[AudioRequest, int] = field(default_factory=dict)
    model_audio: dict[AudioRequest, np.ndarray] = field(default_factory=dict)
    partials: dict[str, Any] = field(default_factory=dict)  # output name -> its decode-stage result
    output_errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # output name -> (stage, reason)
    error: tuple[str, str] | None = None  # (stage, reason): every output of the clip is lost
    # the first clip of a corpus entry that went through the stages: every entry it became, with its span (the
    # run records them before any of their files is written)
    leaves: list[tuple[EntryId, Span | None]] | None = None
    span: Span | None = None  # a piece's samples [start, end) in the audio the stage that cut it read
    synthetic: bool = False  # made by a recipe, not from the corpus (not counted as the corpus's work)
    frames: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, for --profile

    @property
    def uid(self) -> str:
        return str(self.id)

    def info(self) -> ClipInfo:
        return ClipInfo(self.id, self.path, self.seconds, dict(self.num_samples), dict(self.frames))


@dataclass(frozen=True)
class DecodePlan:
    """What the decode stage needs to know, sent once to every worker: the outputs by name, the audio each
    model-stage output's model reads, and the corpus stages (``None``: whole files)."""

    outputs: dict[str, Any]
    model_inputs: dict[str, tuple[AudioRequest, ...]]  # output name -> audio its model reads
    stages: StageChain | None = None

    @cached_property
    def reads_source_cuts(self) -> bool:
        """Whether any output reads a piece as the take's own samples (not the slicer's audio): otherwise the
        pieces need not keep them (a long take would be held twice)."""
        requests = [r for o in self.outputs.values() for r in o.audio_requests()]
        requests += [r for inputs in self.model_inputs.values() for r in inputs]
        return any(not r.view.reads_slicer_audio for r in requests)


def make_batches(items: list[tuple[WorkItem, float]], batch_seconds: float) -> list[list[WorkItem]]:
    """Length-sorted batches holding at most ``batch_seconds`` of audio each (a longer file goes alone)."""
    batches: list[list[WorkItem]] = []
    current: list[WorkItem] = []
    total = 0.0
    for item, seconds in sorted(items, key=lambda e: e[1], reverse=True):
        if current and total + seconds > batch_seconds:
            batches.append(current)
            current, total = [], 0.0
        current.append(item)
        total += seconds
    if current:
        batches.append(current)
    return batches


class DecodeDataset:
    """Map-style dataset: item ``i`` is batch ``i`` decoded into :class:`DecodedClip` objects."""

    def __init__(self, batches: list[list[WorkItem]], plan: DecodePlan) -> None:
        self.batches, self.plan = batches, plan

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> list[DecodedClip]:
        clips: list[DecodedClip] = []
        for item in self.batches[index]:
            clips += self.decode_item(item)
        return clips

    def decode_item(self, item: WorkItem) -> list[DecodedClip]:
        started = time.perf_counter()
        entry = item.entry
        whole = EntryId(entry.uid)
        if item.made is not None:
            clip = self._clip(whole, entry.path, item.made, item.pending, 0.0, item.frames, as_is=True)
            clip.synthetic = True
            return [clip]
        try:
            source = decode(entry.path)
        except CLIP_ERRORS as exc:
            return [DecodedClip(whole, entry.path, error=("decode", str(exc)),
                                timings={"decode": time.perf_counter() - started})]
        decode_seconds = time.perf_counter() - started
        if item.done_pieces is None:
            return [self._clip(whole, entry.path, source, item.pending, decode_seconds, item.frames)]
        started = time.perf_counter()
        try:
            leaves = self.plan.stages.apply(whole, source)
        except StageFailure as exc:
            return [DecodedClip(whole, entry.path, source.seconds, error=(exc.stage, str(exc)),
                                leaves=[] if exc.kept_nothing else None,
                                timings={"decode": decode_seconds, "stages": time.perf_counter() - started})]
        stages_seconds = time.perf_counter() - started
        source = None  # the entry is in its leaves now: free it
        records = [(leaf.id, leaf.span) for leaf in leaves]
        clips = []
        for index, leaf in enumerate(leaves):
            leaves[index] = None  # each leaf's audio is freed once its clip has what it needs
            pending = tuple(name for name in self.plan.outputs if str(leaf.id) not in item.done_pieces.get(name, ()))
            cut = leaf.source if self.plan.reads_source_cuts else None
            clips.append(self._clip(leaf.id, entry.path, leaf.audio, pending, 0.0, {}, source_cut=cut)
                         if pending else DecodedClip(leaf.id, entry.path, leaf.audio.seconds))
            clips[-1].span = leaf.span
        clips[0].leaves = records
        clips[0].timings["decode"] = clips[0].timings.get("decode", 0.0) + decode_seconds
        clips[0].timings["stages"] = stages_seconds
        return clips

    def _clip(self, id: EntryId, path: Path, source: Audio, pending: tuple[str, ...], decode_seconds: float,
              frames: dict[str, int], as_is: bool = False, source_cut: Audio | None = None) -> DecodedClip:
        clip = DecodedClip(id, path, source.seconds, pending, frames=frames, timings={"decode": decode_seconds})
        audio = ClipAudio(id, source, frames, as_is, source_cut)
        outputs = self.plan.outputs
        started = time.perf_counter()
        for name in pending:  # an audio form one output cannot have (its view of a silent clip) fails that output only
            try:
                for request in self.plan.model_inputs.get(name, ()):
                    if request not in clip.model_audio:
                        clip.model_audio[request] = audio.audio(request)
                for request in outputs[name].audio_requests():
                    audio.audio(request)
                for request in outputs[name].frame_requests():
                    clip.num_samples[request] = audio.length(request)
            except CLIP_ERRORS as exc:
                clip.output_errors[name] = ("resample", str(exc) or type(exc).__name__)
        clip.timings["resample"] = time.perf_counter() - started
        for name in pending:
            if name in clip.output_errors:
                continue
            output = outputs[name]
            started = time.perf_counter()
            try:
                clip.partials[name] = output.decode(audio)
            except CLIP_ERRORS as exc:
                clip.output_errors[name] = (output.stage, str(exc) or type(exc).__name__)
            stage = output.stage
            clip.timings[stage] = clip.timings.get(stage, 0.0) + time.perf_counter() - started
        return clip


def in_chunks(clips: list[DecodedClip], max_seconds: float) -> list[list[DecodedClip]]:
    """Consecutive groups of at most ``max_seconds`` of audio (a longer clip goes alone): the pieces of a long take
    reach the models, and their outputs the writer, a group at a time."""
    chunks: list[list[DecodedClip]] = []
    total = 0.0
    for clip in clips:
        if not chunks or (chunks[-1] and total + clip.seconds > max_seconds):
            chunks.append([])
            total = 0.0
        chunks[-1].append(clip)
        total += clip.seconds
    return chunks


def collate_clip_list(batch: list[DecodedClip]) -> list[DecodedClip]:
    """DataLoader ``collate_fn``: batches are already lists of clips."""
    return batch
