"""The corpus pipeline: decode → model → align → write, as separate stages.

Each file is decoded once (DataLoader workers) and resampled once per model rate; batches are filled by total
seconds from length-sorted files; every requested extractor runs on the batch; features are aligned to the
mel frame count and written by one background thread. A bad file is logged (uid, path, stage, reason) and
the run goes on.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from svcprep.align.methods import align_features
from svcprep.audio import probe_seconds
from svcprep.corpus import CorpusEntry, load_corpus, shard_of
from svcprep.decode import DecodeDataset, DecodedClip, keep_batch, make_batches
from svcprep.errors import ConfigError, SvcprepError
from svcprep.presets import MelPreset
from svcprep.provenance import DoneList, check_or_write_meta
from svcprep.storage import JsonlLog, failure_log, remove_stale_temp_files
from svcprep.writer import BackgroundWriter, WriteJob

log = logging.getLogger("svcprep")
SAVE_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class ExtractorConfig:
    """One extractor of a run; outputs go to ``OUT/<feature_name>/``."""

    name: str
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    feature_name: str | None = None

    @property
    def out_name(self) -> str:
        return self.feature_name or self.name


@dataclass(frozen=True)
class PipelineConfig:
    corpus: Path
    out: Path | None
    preset: MelPreset
    write_mels: bool
    extractors: tuple[ExtractorConfig, ...] = ()
    device: str = "auto"
    dtype: str = "float32"
    batch_seconds: float = 120.0
    num_workers: int = 2
    method: str = "area"
    tolerance: int = 4
    shard: tuple[int, int] = (0, 1)
    keep_native: bool = False
    save_dtype: str = "float32"
    overwrite: bool = False

    def __post_init__(self) -> None:
        k, n = self.shard
        if not 0 <= k < n:
            raise ConfigError(f"--shard {k}/{n}: need 0 <= K < N")
        if self.save_dtype not in SAVE_DTYPES:
            raise ConfigError(f"--save-dtype must be one of {', '.join(SAVE_DTYPES)}")
        if self.batch_seconds <= 0:
            raise ConfigError("--batch-seconds must be positive")
        names = [e.out_name for e in self.extractors]
        if len(set(names)) != len(names) or "mels" in names:
            raise ConfigError(f"two outputs share a directory name: {names}; set feature_name to tell them apart")


@dataclass
class RunSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    setup_seconds: float = 0.0  # corpus scan, model loading, provenance
    model_seconds: float = 0.0  # inside the extractors' forward passes
    out: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def describe(self) -> str:
        rate = self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0
        return (f"done {self.done}, skipped {self.skipped} (already done), failed {self.failed}; "
                f"{self.audio_seconds / 3600:.3f} h of audio in {self.wall_seconds:.1f} s ({rate:.1f}× real time)")


@dataclass
class _Feature:
    """A loaded extractor with its output dir and done-list."""

    config: ExtractorConfig
    extractor: Any
    dir: Path
    native_dir: Path | None
    done_list: DoneList
    done: set[str]


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


class Pipeline:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.corpus = load_corpus(config.corpus)
        out = config.out or self.corpus.default_out
        if out is None:
            raise ConfigError("--out is required for an audio directory or a manifest")
        self.out = out
        k, n = config.shard
        self.shard_label = f"shard-{k}-of-{n}"
        self.failures: JsonlLog = failure_log(out)
        self.failed_uids: set[str] = set()

    # -- set-up ---------------------------------------------------------------------------------
    def _load_features(self) -> list[_Feature]:
        from svcprep.extractors.hub import model_fingerprint, resolve_model
        from svcprep.extractors.registry import get_entry, load_extractor

        features = []
        c = self.config
        for ec in c.extractors:
            entry = get_entry(ec.name)
            options = {"device": c.device, "dtype": c.dtype, **ec.options}
            model_ref = ec.model or entry.default_model
            extractor = load_extractor(ec.name, model=model_ref, **options)
            spec = extractor.spec
            if spec.integer_output and c.method in ("area", "linear"):
                raise ConfigError(f"{ec.out_name}: integer outputs (codes) cannot be averaged by method {c.method!r}; "
                                  "use --method nearest or repeat")
            feature_dir = self.out / ec.out_name
            meta = {
                "extractor": entry.name, "model": str(model_ref),
                "checkpoint_sha256": model_fingerprint(resolve_model(model_ref, entry.name)),
                "options": {k: v for k, v in sorted(ec.options.items()) if k not in ("device",)},
                "dtype": c.dtype, "dim": spec.dim,
                "native_grid": {"sample_rate": spec.sample_rate, "hop_length": spec.hop_length},
                "target_grid": {"sample_rate": c.preset.sample_rate, "hop_length": c.preset.hop_length},
                "method": c.method, "tolerance": c.tolerance, "save_dtype": c.save_dtype,
                "layout": "(T, D)",
            }
            features.append(self._prepare_feature(ec, extractor, feature_dir, meta))
        return features

    def _prepare_feature(self, ec, extractor, feature_dir: Path, meta: dict) -> _Feature:
        check_or_write_meta(feature_dir, meta, self.config.overwrite)
        remove_stale_temp_files(feature_dir)
        done_list = DoneList(feature_dir, self.shard_label)
        if self.config.overwrite:
            done_list.reset()
        native_dir = None
        if self.config.keep_native and ec is not None:
            native_dir = self.out / f"{ec.out_name}_native"
            check_or_write_meta(native_dir, {**meta, "target_grid": None, "method": None}, self.config.overwrite)
        return _Feature(ec, extractor, feature_dir, native_dir, done_list, done_list.load())

    def _mel_feature(self) -> _Feature:
        p = self.config.preset
        meta = {"preset": p.to_dict(), "layout": "(n_mels, T)" if p.time_axis == 1 else "(T, n_mels)"}
        return self._prepare_feature(None, None, self.out / "mels", meta)

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
        k, n = c.shard
        entries = [e for e in self.corpus.entries if n == 1 or shard_of(e.uid, n) == k]
        features = self._load_features()
        self.model_seconds = 0.0
        mel_feature = self._mel_feature() if c.write_mels else None
        all_features = ([mel_feature] if mel_feature else []) + features
        summary = RunSummary(out=self.out)
        pending: list[tuple[CorpusEntry, float]] = []
        for entry in entries:
            if all(entry.uid in f.done for f in all_features):
                summary.skipped += 1
                continue
            try:
                pending.append((entry, probe_seconds(entry.path)))
            except SvcprepError as exc:
                self._fail(entry.uid, entry.path, "decode", str(exc))
        layouts = {(f.extractor.spec.sample_rate, f.extractor.spec.channels) for f in features}
        dataset = DecodeDataset(make_batches(pending, c.batch_seconds), layouts, c.preset, c.write_mels,
                                self.out / "mels")
        writer = BackgroundWriter(lambda uid, path, reason: self._fail(uid, path, "write", reason))
        progress = _Progress(sum(s for _, s in pending))
        summary.setup_seconds = time.monotonic() - started
        try:
            for batch in self._batches(dataset):
                self._process(batch, mel_feature, features, writer)
                for clip in batch:
                    summary.audio_seconds += clip.seconds
                progress.update(sum(clip.seconds for clip in batch))
        finally:
            progress.close()
            writer.close()
        summary.failed = len(self.failed_uids)
        summary.done = len(pending) - len(self.failed_uids & {e.uid for e, _ in pending})
        summary.wall_seconds = time.monotonic() - started
        summary.model_seconds = self.model_seconds
        return summary

    def _batches(self, dataset: DecodeDataset):
        if self.config.num_workers <= 0:
            yield from (dataset[i] for i in range(len(dataset)))
            return
        import torch

        loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, collate_fn=keep_batch,
                                             num_workers=self.config.num_workers, prefetch_factor=2,
                                             worker_init_fn=_single_thread_worker)
        yield from loader

    def _process(self, batch: list[DecodedClip], mel_feature: _Feature | None, features: list[_Feature],
                 writer: BackgroundWriter) -> None:
        c = self.config
        good = []
        for clip in batch:
            if clip.error:
                self._fail(clip.uid, clip.path, *clip.error)
            else:
                good.append(clip)
        if mel_feature is not None:
            for clip in good:
                if clip.uid not in mel_feature.done:
                    writer.submit(WriteJob(clip.uid, [(mel_feature.dir / f"{clip.uid}.npy", clip.mel)],
                                           mel_feature.done_list))
        for feature in features:
            spec = feature.extractor.spec
            todo = [clip for clip in good if clip.uid not in feature.done]
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
            for clip, native in zip(todo, self._extract(feature, todo, waves), strict=True):
                if native is None:
                    continue
                try:
                    aligned = align_features(native, source_hop=spec.hop_length, source_sample_rate=spec.sample_rate,
                                             target_hop=c.preset.hop_length, target_sample_rate=c.preset.sample_rate,
                                             target_len=clip.mel_frames, method=c.method, tolerance=c.tolerance)
                except SvcprepError as exc:
                    self._fail(clip.uid, clip.path, "align", str(exc), feature.config.out_name)
                    continue
                files = [(feature.dir / f"{clip.uid}.npy", self._to_save_dtype(aligned))]
                if feature.native_dir is not None:
                    files.append((feature.native_dir / f"{clip.uid}.npy", self._to_save_dtype(native)))
                writer.submit(WriteJob(clip.uid, files, feature.done_list))

    def _extract(self, feature: _Feature, clips: list[DecodedClip], waves: list[np.ndarray]) -> list[np.ndarray | None]:
        """Features per clip; if the batch fails, clips run one by one so only the bad one is lost."""
        if not waves:
            return []
        started = time.monotonic()
        try:
            return feature.extractor.extract(waves)
        except (SvcprepError, RuntimeError, ValueError) as batch_error:
            if len(waves) == 1:
                self._fail(clips[0].uid, clips[0].path, "extract", f"{type(batch_error).__name__}: {batch_error}",
                           feature.config.out_name)
                return [None]
        finally:
            self.model_seconds += time.monotonic() - started
        results: list[np.ndarray | None] = []
        for clip, wav in zip(clips, waves, strict=True):
            results.extend(self._extract(feature, [clip], [wav]))
        return results

    def _to_save_dtype(self, array: np.ndarray) -> np.ndarray:
        if np.issubdtype(array.dtype, np.floating):
            return array.astype(self.config.save_dtype, copy=False)
        return array


def _single_thread_worker(_worker_id: int) -> None:
    import torch

    torch.set_num_threads(1)


def run_pipeline(config: PipelineConfig) -> RunSummary:
    return Pipeline(config).run()
