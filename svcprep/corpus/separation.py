"""Separation as the corpus's first stage: each song's vocals (then lead vocals, then the de-reverbed lead...)
before anything else reads it. Each step streams every pending track through one separator, chunks of several
tracks per batch, and writes the stem it keeps (and the stems the user asks to keep) beside the trees::

    OUT/separated/<step>/<stem>/<uid>.wav      float32 WAV at the model's rate, the model's channels
    OUT/separated/.svcprep/<step>/...          the step's record and done-lists (resume, other settings refused)

The next step reads the kept stem; the run reads the last step's. A step's record holds its settings and those of
every step before it: a change upstream redoes what follows.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from svcprep import __version__
from svcprep.audio.stream import read_blocks, streamed_num_samples
from svcprep.corpus.scan import CorpusEntry
from svcprep.errors import ConfigError, StorageError, SvcprepError
from svcprep.extractors.hub import cached_fingerprint
from svcprep.fileio import FILE_MODE, file_sha256, plain_name, remove_stale_temp_files, shown
from svcprep.outputs.records import DoneEntry, FileRecord, OutputRecord, RecordError
from svcprep.separation.msst_config import LIMITS, SeparatorConfig, separator_config
from svcprep.separation.stems import RESIDUAL, TRACK_ERRORS, Normalization
from svcprep.store.bookkeeping import Bookkeeping
from svcprep.store.codecs import StreamingWav

SEPARATED_DIR = "separated"
STEP_KEYS = ("model", "config", "keep", "also", "num_overlap", "batch_size", "name")


@dataclass(frozen=True)
class SeparationStep:
    """One separator and what to keep of it: ``target`` (the config's target stem), ``residual`` (the mix minus
    it) or a stem name; ``also``: other stems written beside the tree (not read further)."""

    name: str
    checkpoint: Path
    config_path: Path
    config: SeparatorConfig
    keep: str = "target"
    also: tuple[str, ...] = ()
    num_overlap: int | None = None
    batch_size: int | None = None

    @property
    def kept(self) -> str:
        return self.config.target if self.keep == "target" else self.keep

    @property
    def written(self) -> tuple[str, ...]:
        return (self.kept, *(s for s in self.also if s != self.kept))

    def settings(self) -> dict[str, Any]:
        """What decides the stems: the weights and config by content (a copied checkpoint is the same step; its
        sha256 is hashed once per machine), what is kept, the overlap."""
        return {"name": self.name, "checkpoint": self.checkpoint.name,
                "checkpoint_sha256": cached_fingerprint(self.checkpoint)[:16],
                "config_sha256": hashlib.sha256(self.config_path.read_bytes()).hexdigest()[:16],
                "keep": self.kept, "also": list(self.also), "num_overlap": self.num_overlap or self.config.num_overlap}


@dataclass(frozen=True)
class SeparationChain:
    steps: tuple[SeparationStep, ...]

    def settings(self) -> list[dict[str, Any]]:
        return [step.settings() for step in self.steps]


def _step(item: Any, index: int, base: Path) -> SeparationStep:
    where = f"separate[{index}]"
    if isinstance(item, str):
        item = {"model": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with 'model:' (and 'config:', 'keep:'), got {shown(item)}",
                          "separate")
    unknown = sorted(set(item) - set(STEP_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(STEP_KEYS)}", "separate")
    if not isinstance(item.get("model"), str) or not item["model"]:
        raise ConfigError(f"{where}: 'model:' must be the path of the separator's .ckpt", "separate")
    checkpoint = Path(item["model"]).expanduser()
    checkpoint = checkpoint if checkpoint.is_absolute() else base / checkpoint
    if not checkpoint.is_file():
        raise ConfigError(f"{where}: {checkpoint}: no such checkpoint file", "separate")
    config_value = item.get("config")
    config_path = Path(config_value).expanduser() if config_value else checkpoint.with_suffix(".yaml")
    config_path = config_path if config_path.is_absolute() else base / config_path
    if not config_path.is_file():
        raise ConfigError(f"{where}: {config_path}: no separator config; give 'config:' (the YAML published with "
                          f"{checkpoint.name})", "separate")
    config = separator_config(config_path)
    keep = item.get("keep", "target")
    choices = ("target", RESIDUAL, *config.stems)
    also = item.get("also", [])
    also = [also] if isinstance(also, str) else also
    for value in (keep, *also):
        if value not in choices:
            raise ConfigError(f"{where}: {shown(value)} is not a stem of {config_path.name}; choose from "
                              f"{', '.join(choices)}", "separate")
    for key in ("num_overlap", "batch_size"):
        value = item.get(key)
        low, high = LIMITS[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            raise ConfigError(f"{where}: {key} must be an integer in [{low}, {high}] (chunks held at once), got "
                              f"{shown(value)}", "separate")
    kept = config.target if keep == "target" else keep
    name = item.get("name") or f"{index + 1}-{kept}"
    try:
        plain_name(name, "name")
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}", "separate") from exc
    return SeparationStep(name, checkpoint, config_path, config, keep, tuple(also), item.get("num_overlap"),
                          item.get("batch_size"))


def separation_from_config(value: Any, base: Path) -> SeparationChain:
    """``separate:`` of a run config: a list of steps (or one step), each ``model:`` (a ``.ckpt``) with optional
    ``config:`` (default: the ``.yaml`` beside it), ``keep:``, ``also:``, ``num_overlap:``, ``batch_size:``,
    ``name:``. Paths are relative to ``base``. Checked here: before any audio is read."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError("an empty list: give at least one step, or leave 'separate:' out", "separate")
    steps = tuple(_step(item, index, base) for index, item in enumerate(items))
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        raise ConfigError(f"two steps share the name {names}; give each a 'name:'", "separate")
    return SeparationChain(steps)


# -- the pass -------------------------------------------------------------------------------------------------
class _StemFiles:
    """The files of one track's written stems, each through a temp file renamed into place when complete."""

    def __init__(self, paths: dict[str, Path], temp_dir: Path, sample_rate: int, channels: int) -> None:
        self.paths = paths
        self.temp: dict[str, Path] = {}
        self.handles: dict[str, Any] = {}
        self.wavs: dict[str, StreamingWav] = {}
        temp_dir.mkdir(parents=True, exist_ok=True)
        for stem, path in paths.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".tmp", dir=temp_dir)
            self.temp[stem] = Path(tmp)
            self.handles[stem] = os.fdopen(fd, "w+b")
            self.wavs[stem] = StreamingWav(self.handles[stem], sample_rate, channels)

    def write(self, stem: str, block: np.ndarray) -> None:
        self.wavs[stem].write(block.T)

    def commit(self) -> dict[str, str]:
        for stem, handle in self.handles.items():
            self.wavs[stem].close()
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.chmod(self.temp[stem], FILE_MODE)
        digests = {stem: file_sha256(tmp) for stem, tmp in self.temp.items()}
        for stem, tmp in self.temp.items():
            self.paths[stem].parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, self.paths[stem])
        return digests

    def discard(self) -> None:
        for stem, handle in self.handles.items():
            handle.close()
            self.temp[stem].unlink(missing_ok=True)


@dataclass
class _Track:
    uid: str
    path: Path
    files: _StemFiles | None = None
    mix: deque | None = None  # model-rate input not yet matched by output (for the residual)


class SeparationPass:
    """The chain over the corpus entries of one run (one shard)."""

    def __init__(self, chain: SeparationChain, root: Path, shard_label: str, device: str = "auto",
                 overwrite: bool = False, precision: str = "float32") -> None:
        self.chain, self.root = chain, Path(root)
        self.bookkeeping = Bookkeeping(self.root)
        self.shard_label, self.device, self.overwrite, self.precision = shard_label, device, overwrite, precision
        self.records = []
        upstream: list[dict[str, Any]] = []
        for step in chain.steps:
            upstream.append(step.settings())
            files = tuple(FileRecord(stem, "wav", "float32", "(samples, channels)") for stem in step.written)
            settings = json.loads(json.dumps({"steps": upstream, "separator": step.config.settings(),
                                              "precision": precision}))
            self.records.append(OutputRecord(step.name, "separated", files, settings, svcprep_version=__version__))
        self.old_records = [None] * len(chain.steps)
        self.separated = self.skipped = 0  # (track, step) pairs separated by this run / found done

    def check(self) -> None:
        """Other settings recorded under the same step name are refused (unless ``overwrite``): before any model
        loads or any file is written."""
        self.old_records = [self.bookkeeping.check_output(r, overwrite=self.overwrite) for r in self.records]

    def prepare(self) -> None:
        """Before the first stem: temp files a killed run left (old ones only: other shards may be writing) are
        removed; with ``overwrite``, so is every recorded step and stem this chain no longer writes (a changed
        ``keep:`` or ``also:``, a step taken out), so the dir is what a fresh run writes."""
        remove_stale_temp_files(self.bookkeeping.temp_dir)
        if not self.overwrite:
            return
        written = {step.name: set(step.written) for step in self.chain.steps}
        for name in self.bookkeeping.recorded_outputs():
            if name not in written:
                shutil.rmtree(self.root / name, ignore_errors=True)
                shutil.rmtree(self.bookkeeping.dir / name, ignore_errors=True)
                continue
            step_dir = self.root / name
            for stem_dir in sorted(step_dir.iterdir()) if step_dir.is_dir() else ():
                if stem_dir.is_dir() and stem_dir.name not in written[name]:
                    shutil.rmtree(stem_dir)

    def stem_path(self, step: SeparationStep, stem: str, uid: str) -> Path:
        return self.root / step.name / stem / f"{uid}.wav"

    def run(self, entries: list[CorpusEntry], stamps: dict[str, str | None],
            fail: Callable[[str, Path, str, str], None], progress: Callable[[float], None] | None = None
            ) -> list[CorpusEntry]:
        """The entries with their audio replaced by the last step's kept stem; an entry that fails a step is
        reported through ``fail(uid, path, stage, reason)`` and left out."""
        self.prepare()
        current = {entry.uid: entry.path for entry in entries}
        originals = dict(current)
        for index, step in enumerate(self.chain.steps):
            record = self.records[index]
            done_list = self.bookkeeping.done_list(record, self.shard_label)
            done = {} if self.overwrite or self.old_records[index] is None or \
                self.old_records[index].differences(record) else done_list.load()
            pending = [uid for uid in current
                       if not (uid in done and done[uid].source == stamps.get(uid)
                               and all(self.stem_path(step, s, uid).is_file() for s in step.written))]
            self.skipped += len(current) - len(pending)
            if pending:
                separator = self._load(step)  # a checkpoint that does not fit stops the run before any file
                self.bookkeeping.commit_output(record, self.old_records[index])
                self.old_records[index] = record
                failed = self._separate(step, separator, [(uid, current[uid]) for uid in pending], done_list,
                                        stamps, progress)
                for uid, reason in failed.items():
                    current.pop(uid)
                    fail(uid, originals[uid], step.name, reason)
            current = {uid: self.stem_path(step, step.kept, uid) for uid in current}
        return [replace(entry, path=current[entry.uid]) for entry in entries if entry.uid in current]

    def prune(self, sources: set[str]) -> int:
        """Remove the stems of tracks the corpus no longer has (call it only with the whole corpus's uids), and
        record the corpus: their done entries are then no longer the stems' (``verify`` reads the corpus)."""
        self.bookkeeping.write_corpus(sorted(sources))
        removed = 0
        for step in self.chain.steps:
            for stem in step.written:
                directory = self.root / step.name / stem
                for path in sorted(directory.rglob("*.wav")) if directory.is_dir() else ():
                    if path.relative_to(directory).with_suffix("").as_posix() not in sources:
                        path.unlink()
                        removed += 1
        return removed

    def _load(self, step: SeparationStep) -> Any:
        from svcprep.separation.separator import load_separator  # lazy: torch only when a step has work

        return load_separator(step.checkpoint, step.config_path, device=self.device, num_overlap=step.num_overlap,
                              batch_size=step.batch_size, precision=self.precision)

    def _separate(self, step: SeparationStep, separator: Any, tracks: list[tuple[str, Path]], done_list: Any,
                  stamps: dict[str, str | None], progress: Callable[[float], None] | None) -> dict[str, str]:
        failed: dict[str, str] = {}
        state: dict[str, _Track] = {}
        residual_wanted = RESIDUAL in step.written

        def inputs() -> Iterator[tuple[str, Iterator[np.ndarray], Normalization | None]]:
            for uid, path in tracks:
                try:
                    num_samples = streamed_num_samples(path, separator.sample_rate)
                    if num_samples < separator.min_samples:
                        raise SvcprepError(f"{num_samples} samples at {separator.sample_rate} Hz; the separator's "
                                           f"STFT needs at least {separator.min_samples}")
                    norm = self._normalization(path, separator) if separator.config.normalize else None
                except TRACK_ERRORS as exc:
                    failed[uid] = str(exc) or type(exc).__name__
                    continue
                state[uid] = _Track(uid, path, mix=deque() if residual_wanted else None)
                yield uid, self._blocks(state[uid], separator), norm

        def sink_of(uid: str) -> Callable[[np.ndarray], None]:
            track = state[uid]
            paths = {stem: self.stem_path(step, stem, uid) for stem in step.written}
            with _storing(self.root):
                track.files = _StemFiles(paths, self.bookkeeping.temp_dir, separator.sample_rate,
                                         separator.channels)

            def write(out: np.ndarray) -> None:
                stems = {name: out[i] for i, name in enumerate(separator.stems)}
                if residual_wanted:
                    stems[RESIDUAL] = _take(track.mix, out.shape[-1]) - stems[separator.target]
                with _storing(self.root):
                    for stem in step.written:
                        track.files.write(stem, stems[stem])
                if progress is not None:
                    progress(out.shape[-1] / separator.sample_rate)

            return write

        def on_done(uid: str) -> None:
            track = state.pop(uid)
            with _storing(self.root):
                digests = track.files.commit()
                done_list.append(DoneEntry(uid, digests, stamps.get(uid)))
            self.separated += 1

        def on_error(uid: str, exc: Exception) -> None:
            track = state.pop(uid, None)
            if track is not None and track.files is not None:
                track.files.discard()
            failed[uid] = str(exc) or type(exc).__name__

        try:
            separator.stream(inputs(), sink_of, on_done, on_error)
        finally:
            for track in state.values():  # an interrupted run leaves no partial file
                if track.files is not None:
                    track.files.discard()
        return failed

    @staticmethod
    def _blocks(track: _Track, separator: Any) -> Iterator[np.ndarray]:
        for block in read_blocks(track.path, separator.sample_rate, separator.channels):
            if track.mix is not None:
                track.mix.append(block)
            yield block

    @staticmethod
    def _normalization(path: Path, separator: Any) -> Normalization:
        """The mix's mono mean and standard deviation, in one streaming pass (float64 sums)."""
        count, total, squares = 0, 0.0, 0.0
        for block in read_blocks(path, separator.sample_rate, separator.channels):
            mono = block.mean(axis=0, dtype=np.float64)
            count, total, squares = count + mono.size, total + mono.sum(), squares + np.square(mono).sum()
        mean = total / count
        return Normalization.from_moments(float(mean), float(np.sqrt(max(squares / count - mean * mean, 0.0))))


@contextmanager
def _storing(root: Path) -> Iterator[None]:
    """A stem that cannot be written (a full or read-only disk) stops the run in one line; finished stems stay."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot write stems under {root} ({exc.strerror or exc}); stems finished before it are "
                           "kept: free space there and rerun to resume") from exc


def _take(blocks: deque, count: int) -> np.ndarray:
    """The first ``count`` samples of a queue of ``(channels, n)`` blocks, removed from it."""
    parts, needed = [], count
    while needed > 0:
        block = blocks[0]
        if block.shape[1] <= needed:
            parts.append(blocks.popleft())
            needed -= block.shape[1]
        else:
            parts.append(block[:, :needed])
            blocks[0] = block[:, needed:]
            needed = 0
    return np.concatenate(parts, axis=1)


# -- verify ---------------------------------------------------------------------------------------------------
def is_separated_root(root: Path) -> bool:
    """A dir the separation stage wrote (``svcprep separate --out``, or ``OUT/separated`` beside a run's trees)."""
    bookkeeping = Bookkeeping(root)
    names = bookkeeping.recorded_outputs() if bookkeeping.dir.is_dir() else []
    try:
        return bool(names) and all(bookkeeping.read_record(name).kind == "separated" for name in names)
    except (RecordError, AttributeError):
        return False


@dataclass
class StemCheck:
    """What ``verify`` found of one step's stems: files checked, files fine, problems ``(where, what)``."""

    step: str
    files: int = 0
    ok: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def stem_files(root: Path) -> list[tuple[str, str, str, Path]]:
    """``(step, stem, uid, path)`` of every stem a step's done-lists name for a track of the current corpus."""
    bookkeeping = Bookkeeping(root)
    corpus = bookkeeping.read_corpus()
    found = []
    for name in bookkeeping.recorded_outputs():
        record = bookkeeping.read_record(name)
        for uid in sorted(bookkeeping.done_list(record, "read").load()):
            if corpus is None or uid in corpus:
                found += [(name, file.name, uid, root / name / file.name / f"{uid}.wav") for file in record.files]
    return found


def check_separated(root: Path, check_hashes: bool = True) -> list[StemCheck]:
    """Every stem each step's done-lists name: there, a float WAV at the separator's rate, its bytes as written."""
    import soundfile as sf

    bookkeeping = Bookkeeping(root)
    checks = []
    for name in bookkeeping.recorded_outputs():
        record = bookkeeping.read_record(name)
        check = StemCheck(name)
        rate = record.settings.get("separator", {}).get("sample_rate")
        corpus = bookkeeping.read_corpus()  # None: written before the corpus was recorded
        for uid, entry in sorted(bookkeeping.done_list(record, "read").load().items()):
            if corpus is not None and uid not in corpus:
                continue  # a track gone from the corpus: its stems were removed with it
            for file in record.files:
                check.files += 1
                path = root / name / file.name / f"{uid}.wav"
                where = f"{file.name}/{uid}"
                if not path.is_file():
                    check.problems.append((where, "missing (rerun to separate it again)"))
                    continue
                try:
                    info = sf.info(str(path))
                except (RuntimeError, sf.LibsndfileError) as exc:
                    check.problems.append((where, f"unreadable ({exc})"))
                    continue
                if info.samplerate != rate or info.subtype != "FLOAT":
                    check.problems.append((where, f"{info.samplerate} Hz {info.subtype}; the step writes float "
                                                  f"WAVs at {rate} Hz"))
                elif check_hashes and file_sha256(path) != entry.sha256.get(file.name):
                    check.problems.append((where, "changed since svcprep wrote it (sha256 differs)"))
                else:
                    check.ok += 1
        checks.append(check)
    return checks
