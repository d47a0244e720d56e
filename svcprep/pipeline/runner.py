"""The corpus pipeline: decode → model → align → write, as separate stages.

Before any model loads, every output's provenance is checked and its done-list read: a rerun with nothing
left to do loads no model. Each file is decoded once (in DataLoader workers, in the main process, or as Ray
tasks) and resampled once per model rate, and its mel, energy and pitch are computed there; batches are filled
by total seconds from length-sorted files (sizes from :mod:`.device_defaults` unless set); every requested
extractor runs on the batch (:mod:`.extraction`); features are aligned to the mel frame count and written by
one background thread. A bad file is logged (uid, path, stage, reason) and the run goes on; a disk that cannot
take the outputs stops the run. Statistics and the Amphion fragment are written at the end when asked for.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.align.methods import align_features
from svcprep.audio.io import probe_seconds
from svcprep.errors import ConfigError, RunInterrupted, SvcprepError
from svcprep.pipeline.config import ExtractorConfig, PipelineConfig
from svcprep.pipeline.corpus import CorpusEntry, load_corpus, shard_of
from svcprep.pipeline.decode import DecodeDataset, DecodedClip, keep_batch, make_batches
from svcprep.pipeline.layout import ENERGYS, MELS, PITCHES, UVS, OutputLayout
from svcprep.pipeline.profile import StageTimes
from svcprep.pipeline.provenance import DoneList, open_output, read_meta
from svcprep.pipeline.storage import FailureLog, read_npy_shape, remove_stale_temp_files
from svcprep.pipeline.summary import RunSummary
from svcprep.pipeline.workers import decode_worker_init
from svcprep.pipeline.writer import BackgroundWriter, WriteJob

log = logging.getLogger("svcprep")

__all__ = ["ExtractorConfig", "PipelineConfig", "Pipeline", "RunSummary", "run_pipeline"]


@dataclass
class _Output:
    """One output dir of this run, its done-list, and what is already done in it."""

    name: str
    done_list: DoneList
    done: set[str]


@dataclass
class _Feature:
    """An extractor of this run: resolved (spec, options, model path) before it is loaded."""

    config: ExtractorConfig
    resolved: Any  # svcprep.extractors.registry.ResolvedExtractor
    output: _Output
    native: _Output | None
    extractor: Any = None

    @property
    def spec(self):
        return self.resolved.spec

    def is_done(self, uid: str) -> bool:
        return uid in self.output.done and (self.native is None or uid in self.native.done)


class _Progress:
    """tqdm over seconds of audio on a TTY, periodic log lines otherwise."""

    def __init__(self, total_seconds: float, interval_seconds: float = 30.0) -> None:
        self.total, self.seen, self.start, self.last_log = total_seconds, 0.0, time.monotonic(), time.monotonic()
        self.interval = interval_seconds
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=round(total_seconds, 1), unit="s audio", unit_scale=True, dynamic_ncols=True)

    def update(self, seconds: float) -> None:
        self.seen += seconds
        if self.bar is not None:
            self.bar.update(round(seconds, 1))
        elif time.monotonic() - self.last_log >= self.interval:
            self.last_log = time.monotonic()
            elapsed = self.last_log - self.start
            print(f"progress: {self.seen:.0f}/{self.total:.0f} s of audio, {self.seen / elapsed:.1f}× real time",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_device(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{device!r} requested but torch sees no usable CUDA GPU; use --device cpu", "device")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{device!r}: only {torch.cuda.device_count()} GPU(s) visible", "device")


def _check_writable(layout: OutputLayout) -> None:
    """Outputs must be writable before any model loads: a probe file in the bookkeeping dir."""
    try:
        layout.temp_dir.mkdir(parents=True, exist_ok=True)
        probe = layout.temp_dir / f".probe-{os.getpid()}.tmp"
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to {layout.root} ({exc.strerror or exc}); choose another --out "
                          "or free space there", "out") from exc


class Pipeline:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.profile = StageTimes()
        with self.profile.stage("scan"):
            self.corpus = load_corpus(config.corpus)
        out = config.out or self.corpus.default_out
        if out is None:
            raise ConfigError("required for an audio directory or a manifest", "out")
        self.out = out
        self.layout = OutputLayout(out)
        k, n = config.shard
        self.shard_label = f"shard-{k}-of-{n}"
        self.failures = FailureLog(self.layout.failure_log)
        self.failed_uids: set[str] = set()
        self.model_seconds = 0.0
        self.batching: tuple[float, int] | None = None  # (seconds per batch, decode workers) once decided

    # -- set-up: everything here runs before any model loads ---------------------------------------
    def _open(self, name: str, meta: dict[str, Any]) -> _Output:
        done_list = open_output(self.layout, name, meta, overwrite=self.config.overwrite,
                                shard_label=self.shard_label)
        remove_stale_temp_files(self.layout.output_dir(name))  # svcprep 0.1 kept temp files there
        # --overwrite redoes every uid of this run, whatever any done-list says.
        return _Output(name, done_list, set() if self.config.overwrite else done_list.load())

    def _check_mel_grid(self) -> None:
        """Features are aligned to the mels already in OUT/mels: they must be on this run's grid."""
        recorded = read_meta(self.layout, MELS)
        if not recorded or "preset" not in recorded:
            return
        ours = self.config.preset.to_dict()
        theirs = recorded["preset"]
        differing = sorted(k for k in ours if k != "name" and ours[k] != theirs.get(k))
        if differing:
            raise ConfigError(
                f"{self.layout.output_dir(MELS)} was made with preset {theirs.get('name')!r} "
                f"({theirs.get('sample_rate')} Hz, hop {theirs.get('hop_length')}); this run uses "
                f"{ours['name']!r} ({ours['sample_rate']} Hz, hop {ours['hop_length']}), differing in "
                f"{', '.join(differing)}: pass the preset the mels were made with, or redo the mels "
                "(svcprep mel --overwrite)", "preset")

    def _resolve_extractors(self) -> list:
        """Model paths, options and specs from config files: no model loads, nothing is written.

        Models are not probed with dummy clips at load: the first real batch checks every frame count, and a
        mismatch stops the run (:class:`FrameCountError`)."""
        from svcprep.extractors.registry import resolve_extractor

        c = self.config
        return [resolve_extractor(ec.name, ec.model, **{**ec.options, "device": c.device, "dtype": c.dtype,
                                                        "verify": False})
                for ec in c.extractors]

    def _prepare_features(self, resolved_extractors: list) -> list[_Feature]:
        from svcprep.extractors.hub import cached_fingerprint

        c = self.config
        features = []
        for ec, resolved in zip(c.extractors, resolved_extractors, strict=True):
            spec = resolved.spec
            meta = {
                "extractor": resolved.entry.name, "model": resolved.model,
                "checkpoint_sha256": cached_fingerprint(resolved.path, self.layout.bookkeeping_dir),
                "options": dict(sorted(resolved.settings.items())),
                "dtype": c.dtype, "dim": spec.dim,
                "native_grid": {"sample_rate": spec.sample_rate, "hop_length": spec.hop_length},
                "target_grid": {"sample_rate": c.preset.sample_rate, "hop_length": c.preset.hop_length},
                "method": c.method, "tolerance": c.tolerance, "save_dtype": c.save_dtype,
                "layout": "(T, D)",
            }
            native = None
            if c.keep_native:
                native = self._open(self.layout.native_name(ec.out_name),
                                    {**meta, "target_grid": None, "method": None, "tolerance": None})
            features.append(_Feature(ec, resolved, self._open(ec.out_name, meta), native))
        return features

    def _frame_outputs(self) -> dict[str, _Output]:
        """Outputs with one value per mel frame, computed in the decode stage: mels, energys, pitches (+ uvs)."""
        c, p = self.config, self.config.preset
        outputs = {}
        if c.write_mels:
            outputs[MELS] = self._open(MELS, {"preset": p.to_dict(),
                                              "layout": "(n_mels, T)" if p.time_axis == 1 else "(T, n_mels)"})
        if c.write_energy:
            outputs[ENERGYS] = self._open(ENERGYS, {"preset": p.to_dict(), "formula": "sqrt(sum(exp(mel)**2))"})
        if c.pitch is not None:
            outputs[PITCHES] = self._open(PITCHES, {"preset": p.to_dict(), "pitch": c.pitch.to_dict(),
                                                    "files": [PITCHES, UVS]})
        return outputs

    def _fail(self, uid: str, path: Path, stage: str, reason: str, feature: str | None = None) -> None:
        record = {"uid": uid, "path": str(path), "stage": stage, "reason": reason}
        if feature:
            record["feature"] = feature
        self.failures.append(record)
        self.failed_uids.add(uid)

    # -- run --------------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        started = time.monotonic()
        c = self.config
        _check_device(c.device)
        if c.pitch is not None:
            from svcprep.pitch.settings import check_backend

            check_backend(c.pitch.method)
        resolved = self._resolve_extractors()
        if not c.write_mels:
            self._check_mel_grid()
        _check_writable(self.layout)
        remove_stale_temp_files(self.layout.temp_dir)  # a killed run's partial files (old ones: shards may be live)
        k, n = c.shard
        entries = [e for e in self.corpus.entries if n == 1 or shard_of(e.uid, n) == k]
        features = self._prepare_features(resolved)
        frame_outputs = self._frame_outputs()
        summary = RunSummary(out=self.out)
        pending: list[tuple[CorpusEntry, float]] = []
        with self.profile.stage("scan"):
            for entry in entries:
                if all(entry.uid in o.done for o in frame_outputs.values()) and all(f.is_done(entry.uid)
                                                                                   for f in features):
                    summary.skipped += 1
                    continue
                try:
                    pending.append((entry, probe_seconds(entry.path)))
                except SvcprepError as exc:
                    self._fail(entry.uid, entry.path, "decode", str(exc))
        if pending:
            self._run_pending(pending, frame_outputs, features, summary)
        # Keep a failure only while its uid is in the corpus and has not succeeded since.
        resolved = {e.uid for e in entries} - self.failed_uids
        in_corpus = {e.uid for e in self.corpus.entries}
        self.failures.compact(lambda record: record.get("uid") in resolved or record.get("uid") not in in_corpus)
        summary.failed = len(self.failed_uids)
        summary.done = len(pending) - len(self.failed_uids & {e.uid for e, _ in pending})
        if c.write_stats:
            summary.notes.append(self._statistics())
        if c.amphion_fragment:
            summary.notes.append(self._write_amphion_fragment(features))
        summary.wall_seconds = time.monotonic() - started
        summary.model_seconds = self.model_seconds
        if c.profile:
            batch_seconds, workers = self.batching or (0.0, 0)
            summary.notes.append(f"profile: batches of {batch_seconds:g} s of audio (0: one file each), "
                                 f"{workers} decode worker(s)\n"
                                 + self.profile.describe(summary.wall_seconds, in_workers=workers > 0))
        return summary

    def _statistics(self) -> str:
        """Dataset statistics once every uid of the corpus has its mel (all shards finished)."""
        from svcprep.pipeline.stats import write_dataset_statistics

        missing = [e.uid for e in self.corpus.entries if not self.layout.file(MELS, e.uid).is_file()]
        if missing and not set(missing) <= self.failed_uids:
            return (f"statistics: {len(missing)} utterance(s) have no mel yet (other shards still running?); "
                    f"run `svcprep stats {self.out}` when every shard is done")
        return write_dataset_statistics(self.out, self.corpus, self.config.preset,
                                        pitch=self.config.pitch is not None).describe()

    def _write_amphion_fragment(self, features: list[_Feature]) -> str:
        import json

        from svcprep.pipeline.amphion_config import CONTENT_KEYS, amphion_fragment
        from svcprep.pipeline.storage import atomic_write_text

        content, skipped = {}, []
        for feature in features:
            name = feature.config.out_name
            if name in CONTENT_KEYS and feature.native is not None:
                spec = feature.spec
                content[name] = (feature.native.name, spec.hop_length, spec.sample_rate, spec.dim)
            else:
                skipped.append(name)
        fragment = amphion_fragment(self.layout, self.config.preset, self.config.pitch, content)
        atomic_write_text(self.layout.amphion_fragment, json.dumps(fragment, indent=4) + "\n", self.layout.temp_dir)
        note = f"Amphion config fragment: {self.layout.amphion_fragment} (merge it over your exp_config)"
        if skipped:
            note += f"; not in it (no Amphion key): {', '.join(skipped)}"
        return note

    def _run_pending(self, pending: list[tuple[CorpusEntry, float]], frame_outputs: dict[str, _Output],
                     features: list[_Feature], summary: RunSummary) -> None:
        c = self.config
        setup_started = time.monotonic()
        ray_run = c.ray is not None
        with self.profile.stage("model load"):
            if ray_run:  # the models load in the Ray actors
                batch_seconds = c.batch_seconds if c.batch_seconds is not None else \
                    (120.0 if c.ray.gpus_per_worker else 0.0)
                num_workers = 0
                self.batching = (batch_seconds, 0)
            else:
                for feature in features:
                    feature.extractor = feature.resolved.load()
                batch_seconds, num_workers = self._batching([f.extractor for f in features])
        layouts = {(f.spec.sample_rate, f.spec.channels) for f in features}
        mel_frames = {} if c.computes_mel else self._existing_mel_frames([e.uid for e, _ in pending])
        dataset = DecodeDataset(make_batches(pending, batch_seconds), layouts, c.preset, c.write_mels, mel_frames,
                                pitch=c.pitch, compute_energy=c.write_energy)
        writer = BackgroundWriter(lambda uid, path, reason: self._fail(uid, path, "write", reason),
                                  temp_dir=self.layout.temp_dir)
        progress = _Progress(sum(s for _, s in pending))
        summary.setup_seconds = time.monotonic() - setup_started
        try:
            if ray_run:
                import torch

                from svcprep.pipeline.ray_backend import ray_batches

                batches = ray_batches(dataset, [f.resolved for f in features], c.ray, torch.get_num_threads())
            else:
                batches = ((batch, None) for batch in self._batches(dataset, num_workers))
            while True:
                with self.profile.stage("waiting for input"):
                    batch, natives = next(batches, (None, None))
                if batch is None:
                    break
                for clip in batch:
                    self.profile.add(clip.timings)
                self._process(batch, frame_outputs, features, writer, natives)
                seconds = sum(clip.seconds for clip in batch)
                summary.audio_seconds += seconds
                progress.update(seconds)
        except KeyboardInterrupt:
            progress.close()
            writer.close()
            raise RunInterrupted(f"interrupted: the files finished so far are saved in {self.out}; "
                                 "rerun the same command to resume") from None
        progress.close()
        writer.close()
        self.profile.add({"write": writer.busy_seconds, "hand-off to writer": writer.submit_seconds})

    def _existing_mel_frames(self, uids: list[str]) -> dict[str, int]:
        frames = {}
        for uid in uids:
            path = self.layout.file(MELS, uid)
            if path.is_file():
                frames[uid] = read_npy_shape(path)[0][self.config.preset.time_axis]
        return frames

    def _batching(self, extractors: list) -> tuple[float, int]:
        """(seconds of audio per batch, decode workers): the user's values, else what fits the device."""
        from svcprep.pipeline import device_defaults

        c = self.config
        on_gpu = bool(extractors) and extractors[0].device.type == "cuda"
        num_workers = c.num_workers if c.num_workers is not None else \
            device_defaults.default_num_workers(on_gpu, bool(extractors))
        if c.batch_seconds is not None:
            batch_seconds = c.batch_seconds
        elif on_gpu:
            batch_seconds = device_defaults.gpu_batch_seconds(extractors, extractors[0].device)
        else:
            batch_seconds = 0.0  # one file per model call
        self.batching = (batch_seconds, num_workers)
        return batch_seconds, num_workers

    def _batches(self, dataset: DecodeDataset, num_workers: int):
        if num_workers <= 0:
            yield from (dataset[i] for i in range(len(dataset)))
            return
        import torch

        loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, collate_fn=keep_batch,
                                             num_workers=num_workers, prefetch_factor=2,
                                             worker_init_fn=decode_worker_init)
        yield from loader

    def _process(self, batch: list[DecodedClip], frame_outputs: dict[str, _Output], features: list[_Feature],
                 writer: BackgroundWriter, natives: list[dict] | None = None) -> None:
        """Align and write one decoded batch; ``natives`` (Ray): per extractor, ``{uid: features or error}``
        computed elsewhere, else the extractors run here."""
        c = self.config
        good = []
        for clip in batch:
            if clip.error:
                self._fail(clip.uid, clip.path, *clip.error)
            else:
                good.append(clip)
        for clip in good:
            self._write_frame_outputs(clip, frame_outputs, writer)
        for feature in features:
            spec = feature.spec
            todo = [clip for clip in good if not feature.is_done(clip.uid)]
            waves = []
            for clip in list(todo):
                wav = clip.audio[(spec.sample_rate, spec.channels)]
                if spec.num_frames(len(wav)) < 1:
                    todo.remove(clip)
                    field_ms = 1000 * spec.receptive_field / spec.sample_rate
                    self._fail(clip.uid, clip.path, "extract", f"{clip.seconds * 1000:.1f} ms of audio is shorter than "
                               f"{spec.name}'s receptive field ({field_ms:.1f} ms)", feature.config.out_name)
                else:
                    waves.append(wav)
            if natives is None:
                extracted = self._extract(feature, todo, waves)
            else:
                extracted = self._kept(feature, todo, [natives[features.index(feature)][c.uid] for c in todo])
            for clip, native in zip(todo, extracted, strict=True):
                if native is None:
                    continue
                try:
                    with self.profile.stage("align"):
                        aligned = align_features(native, source_hop=spec.hop_length,
                                                 source_sample_rate=spec.sample_rate, target_hop=c.preset.hop_length,
                                                 target_sample_rate=c.preset.sample_rate,
                                                 target_len=clip.mel_frames, method=c.method, tolerance=c.tolerance)
                except SvcprepError as exc:
                    self._fail(clip.uid, clip.path, "align", str(exc), feature.config.out_name)
                    continue
                name = feature.config.out_name
                if clip.uid not in feature.output.done:
                    writer.submit(WriteJob(clip.uid, [(self.layout.file(name, clip.uid), self._to_save_dtype(aligned))],
                                           feature.output.done_list))
                if feature.native is not None and clip.uid not in feature.native.done:
                    writer.submit(WriteJob(clip.uid, [(self.layout.file(feature.native.name, clip.uid),
                                                       self._to_save_dtype(native))], feature.native.done_list))

    def _write_frame_outputs(self, clip: DecodedClip, outputs: dict[str, _Output], writer: BackgroundWriter) -> None:
        from svcprep.pitch.tracking import voiced_flags

        files = {MELS: lambda: [(MELS, clip.mel)], ENERGYS: lambda: [(ENERGYS, clip.energy)],
                 PITCHES: lambda: [(PITCHES, clip.pitch), (UVS, voiced_flags(clip.pitch))]}
        for name, output in outputs.items():
            if clip.uid in output.done:
                continue
            if name == PITCHES and clip.pitch_error:
                self._fail(clip.uid, clip.path, "pitch", clip.pitch_error, PITCHES)
                continue
            arrays = [(self.layout.file(kind, clip.uid), array) for kind, array in files[name]()]
            writer.submit(WriteJob(clip.uid, arrays, output.done_list))

    def _extract(self, feature: _Feature, clips: list[DecodedClip], waves: list[np.ndarray]) -> list[np.ndarray | None]:
        """Features per clip (``None`` for a clip that failed, recorded); see :mod:`.extraction`."""
        from svcprep.pipeline.extraction import extract_clips

        started = time.monotonic()
        try:
            with self.profile.stage("model"):
                results = extract_clips(feature.extractor, waves)
        finally:
            self.model_seconds += time.monotonic() - started
        return self._kept(feature, clips, results)

    def _kept(self, feature: _Feature, clips: list[DecodedClip],
              results: list[np.ndarray | str]) -> list[np.ndarray | None]:
        kept: list[np.ndarray | None] = []
        for clip, result in zip(clips, results, strict=True):
            if isinstance(result, str):
                self._fail(clip.uid, clip.path, "extract", result, feature.config.out_name)
                kept.append(None)
            else:
                kept.append(result)
        return kept

    def _to_save_dtype(self, array: np.ndarray) -> np.ndarray:
        if np.issubdtype(array.dtype, np.floating):
            return array.astype(self.config.save_dtype, copy=False)
        return array


def run_pipeline(config: PipelineConfig) -> RunSummary:
    return Pipeline(config).run()
