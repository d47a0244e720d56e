"""The run: scan → plan → decode → model → finish → write, for every output of every recipe of the run.

Set-up (everything before any model loads): the corpus is scanned, each recipe resolves its outputs (model
configs are read, not the weights), every output's record is checked against what is on disk (other settings
are refused unless ``--overwrite``), the done-lists say what is pending per uid (a done entry whose file is gone
is not trusted), and the outputs' roots are probed for writability. A rerun with nothing to do loads no model.

Then the backend decodes batches (each file once; every audio form once) and runs the model stage; the run
finishes each pending output of each clip (alignment, F0 sampling, file conventions), checks every array is
finite, and hands the files to one writer thread. Records are written only after the models loaded. A bad file
is recorded (uid, path, stage, reason) and the run goes on; a disk that cannot take the outputs stops the run.
At the end each recipe writes its dataset-level files (statistics, file lists, config fragments).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.audio.io import probe_seconds
from svcprep.corpus.entries import Entry, SyntheticEntry, whole
from svcprep.corpus.records import Leaves, StageRecords
from svcprep.corpus.scan import CorpusEntry, load_corpus, shard_of, source_stamp
from svcprep.corpus.separation import SEPARATED_DIR, SeparationPass
from svcprep.corpus.stages import STAGES
from svcprep.errors import ConfigError, RunInterrupted, StorageError, SvcprepError, Terminated
from svcprep.ids import EntryId
from svcprep.pipeline import device_defaults
from svcprep.pipeline.backends import make_backend
from svcprep.pipeline.config import RunConfig
from svcprep.pipeline.decode import CLIP_ERRORS, DecodeDataset, DecodedClip, DecodePlan, WorkItem, make_batches
from svcprep.pipeline.models import ModelStage
from svcprep.pipeline.profile import StageTimes
from svcprep.pipeline.progress import Progress
from svcprep.pipeline.streamed import StreamedFiles
from svcprep.pipeline.summary import RunSummary
from svcprep.pipeline.writer import BackgroundWriter, WriteJob
from svcprep.recipes.base import RecipeContext
from svcprep.store.tree import OutputTree

log = logging.getLogger("svcprep")

__all__ = ["RunConfig", "RunSummary", "run_pipeline"]
CLIP_STAGES = ("decode", "resample", "separate", *STAGES)  # failures that lose every output of a clip


@dataclass
class _Planned:
    """One output of one recipe in this run: its key in the decode plan, output tree, record and done-list."""

    key: str
    output: Any
    recipe_index: int
    tree: OutputTree
    record: Any
    old_record: Any
    done_list: Any = None
    done: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()  # keys of outputs of this run whose files fix this one's rows


def _check_writable(tree: OutputTree) -> None:
    try:
        tree.sink.prepare()
    except OSError as exc:
        raise ConfigError(f"cannot write to {tree.root} ({exc.strerror or exc}); choose another --out "
                          "or free space there", "out") from exc


def _non_finite(files: dict[str, Any]) -> str | None:
    for name, value in files.items():
        array = getattr(value, "samples", value)
        if isinstance(array, tuple):
            array = array[0]
        if isinstance(array, np.ndarray) and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            return f"{name}: NaN or infinite values (the input is out of range for this computation)"
    return None


class Pipeline:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.profile = StageTimes()
        with self.profile.stage("scan"):
            self.corpus = load_corpus(config.corpus, outside=(config.out,) if config.out else ())
        out = config.out or self.corpus.default_out
        if out is None:
            raise ConfigError("required for an audio directory or a manifest", "out")
        self.out = Path(out)
        if self.corpus.kind == "directory" and self.out.resolve() == self.corpus.root.resolve():
            raise ConfigError(f"{out} is the corpus dir: its outputs would be read back as audio on the next run; "
                              "write them to another dir", "out")
        k, n = config.shard
        self.shard_label = f"shard-{k}-of-{n}"
        labels = config.recipe_labels
        several = len(config.recipes) > 1
        self.contexts: list[RecipeContext] = []
        for recipe, label in zip(config.recipes, labels, strict=True):
            root = self.out / label if several else self.out
            tree = OutputTree.open(root, recipe.naming(self.corpus), config.storage)
            self.contexts.append(RecipeContext(self.corpus, tree, config.device, config.dtype, stages=config.stages))
        self.failed_uids: set[str] = set()
        self.known: dict[str, Leaves] = {}  # with corpus stages: what each corpus entry became (from the records)
        self.synthetic: list[tuple[int, SyntheticEntry]] = []  # (recipe index, entry) of entries recipes add
        self.previous_namings: dict[int, Any] = {}  # recipe index -> its tree's naming before this run
        self.stamps: dict[str, str | None] = {}  # corpus uid -> its source file's stamp (size, mtime) at the scan
        self.batching: tuple[float, int] | None = None

    # -- set-up: everything here runs before any model loads ---------------------------------------
    def _plan_outputs(self) -> list[_Planned]:
        planned = []
        for index, (recipe, ctx) in enumerate(zip(self.config.recipes, self.contexts, strict=True)):
            recipe.check(ctx)
            for output in recipe.outputs(ctx):
                output_check = getattr(output, "check", None)
                if output_check is not None:
                    output_check()
                record = self._record(output, recipe, ctx)
                old = ctx.tree.bookkeeping.check_output(record, overwrite=self.config.overwrite)
                planned.append(_Planned(f"{index}:{output.name}", output, index, ctx.tree, record, old))
        owners = {(p.recipe_index, f.name): p.key for p in planned for f in p.record.files}
        for p in planned:
            reference = p.record.frames.reference if p.record.frames else None
            owner = owners.get((p.recipe_index, reference))
            if owner is not None and owner != p.key:
                p.depends_on = (owner,)
        # References first, so that a uid whose mel failed gets no feature aligned to a mel that is not there.
        return sorted(planned, key=lambda p: len(p.depends_on))

    def _record(self, output: Any, recipe: Any, ctx: RecipeContext) -> Any:
        """The output's record, with what else decides its files: the corpus stages (other stages, other
        entries) and the recipe's layout of the whole corpus (DDSP-SVC's speaker ids and val split)."""
        record = output.record()
        extra: dict[str, Any] = {}
        if self.config.separation is not None:
            extra["separate"] = self.config.separation.settings()
        if self.config.stages is not None:
            extra["stages"] = self.config.stages.settings()
        layout = recipe.layout_settings(ctx)
        if layout:
            extra["layout"] = layout
        if not extra:
            return record
        return dataclasses.replace(record, settings={**record.settings, **json.loads(json.dumps(extra))})

    def _fail(self, uid: str, path: Path, stage: str, reason: str, trees: list[OutputTree],
              output: str | None = None) -> None:
        record = {"uid": uid, "path": str(path), "stage": stage, "reason": reason}
        if output:
            record["output"] = output
        self.failed_uids.add(uid)
        for tree in trees:
            failures = tree.bookkeeping.failures
            try:
                failures.append(record)
            except OSError as exc:
                raise StorageError(f"cannot record the failure of {uid} in {failures.path} ({exc}); files "
                                   "finished before it are kept, fix the cause and rerun to resume") from exc

    @property
    def trees(self) -> list[OutputTree]:
        return [ctx.tree for ctx in self.contexts]

    def _leaves(self, entry: CorpusEntry) -> list:
        """The ids of what a corpus entry became: itself, or the entries the stages made of it (known from the
        records; none when it was never staged)."""
        if self.config.stages is None:
            return [whole(entry).id]
        return [leaf for leaf, _ in self.known.get(entry.uid, [])]

    def _done(self, planned: list[_Planned], entries: list[CorpusEntry]) -> None:
        """Each output's done entries, trusted only where every file of the uid is still there and was made from
        its source file as it is now."""
        stamps = [self._stamp(entry) for entry in entries]  # also what the done entries this run writes record
        corpus_ids = [(leaf, stamp) for entry, stamp in zip(entries, stamps, strict=True)
                      for leaf in self._leaves(entry)]
        for p in planned:
            p.done_list = p.tree.bookkeeping.done_list(p.record, self.shard_label)
            if self.config.overwrite or p.old_record is None or p.old_record.differences(p.record):
                continue
            done = p.done_list.load()
            made = [(entry.id, None) for index, entry in self.synthetic if index == p.recipe_index]
            for id, stamp in corpus_ids + made:
                entry = done.get(str(id))
                if entry is None or entry.source not in (None, stamp):
                    continue  # not done, or made from a file replaced since
                if all(p.tree.sink.exists(f, id) for f in p.record.files):
                    p.done[str(id)] = entry

    def _work(self, planned: list[_Planned], entries: list[CorpusEntry],
              summary: RunSummary) -> list[tuple[WorkItem, float]]:
        work: list[tuple[WorkItem, float]] = []
        frames_needed: list[str] = []
        for entry in entries:
            if self.config.stages is not None:
                leaves = [str(leaf) for leaf in self._leaves(entry)]
                if entry.uid in self.known and all(uid in p.done for uid in leaves for p in planned):
                    summary.skipped += len(leaves)
                    continue
                done = {p.key: frozenset(uid for uid in leaves if uid in p.done) for p in planned}
                item = WorkItem(entry, done_pieces=done)
            else:
                pending = tuple(p.key for p in planned if entry.uid not in p.done)
                if not pending:
                    summary.skipped += 1
                    continue
                item = WorkItem(entry, pending)
                frames_needed.append(entry.uid)
            try:
                work.append((item, probe_seconds(entry.path)))
            except SvcprepError as exc:
                self._fail(entry.uid, entry.path, "decode", str(exc), self.trees)
        if frames_needed:
            frames = self._frames_on_disk(frames_needed)
            work = [(dataclasses.replace(i, frames=frames.get(i.entry.uid, {})), s) for i, s in work]
        for index, made in self.synthetic:
            pending = tuple(p.key for p in planned if p.recipe_index == index and str(made.id) not in p.done)
            if pending:
                entry = CorpusEntry(str(made.id), Path(f"{self.config.recipes[index].name}:{made.id}"))
                work.append((WorkItem(entry, pending, made=made.audio), made.audio.seconds))
        return work

    def _frames_on_disk(self, uids: list[str]) -> dict[str, dict[str, int]]:
        merged: dict[str, dict[str, int]] = {}
        for recipe, ctx in zip(self.config.recipes, self.contexts, strict=True):
            for uid, frames in recipe.frames_on_disk(ctx, uids).items():
                clash = set(frames) & set(merged.get(uid, {}))
                if clash:
                    raise ConfigError(f"two recipes of this run read row counts from {', '.join(clash)}; run them "
                                      "separately", "config")
                merged.setdefault(uid, {}).update(frames)
        return merged

    def _stage_records(self, tree: OutputTree) -> StageRecords:
        return StageRecords(tree.bookkeeping, self.config.stages.key, self.shard_label)

    def _stamp(self, entry: CorpusEntry) -> str | None:
        if entry.uid not in self.stamps:
            self.stamps[entry.uid] = source_stamp(entry.path)
        return self.stamps[entry.uid]

    def _load_stage_records(self, entries: list[CorpusEntry]) -> None:
        """What each corpus entry became under the run's stages, from every output root's records; a source file
        changed since it was cut is not known (it is cut again)."""
        if self.config.stages is None:
            return
        stamps = {entry.uid: self._stamp(entry) for entry in entries}
        for tree in self.trees:
            for source, (stamp, leaves) in self._stage_records(tree).load_stamped().items():
                if stamp is None or source not in stamps or stamp == stamps[source]:
                    self.known[source] = leaves

    def entries(self) -> dict[str, Entry]:
        """uid -> entry, for every entry of the corpus the outputs see (the pieces known so far, with stages)."""
        by_uid: dict[str, Entry] = {}
        for source in self.corpus.entries:
            if self.config.stages is None:
                by_uid[source.uid] = whole(source)
            for leaf, span in self.known.get(source.uid, []) if self.config.stages is not None else []:
                by_uid[str(leaf)] = Entry(leaf, source, span)
        return by_uid

    # -- run --------------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        try:
            return self._run()
        finally:
            for tree in self.trees:
                tree.sink.close()

    def _run(self) -> RunSummary:
        started = time.monotonic()
        c = self.config
        device_defaults.check_device(c.device)
        planned = self._plan_outputs()
        self.previous_namings = self._previous_namings()
        self.synthetic = [(index, made) for index, (recipe, ctx) in enumerate(zip(c.recipes, self.contexts,
                                                                                  strict=True))
                          for made in recipe.synthetic_entries(ctx)]
        separation = None
        if c.separation is not None:
            separation = SeparationPass(c.separation, self.out / SEPARATED_DIR, self.shard_label, c.device,
                                        c.overwrite, precision=c.dtype)
            separation.check()
        for tree in self.trees:
            _check_writable(tree)
        k, n = c.shard
        entries = [e for e in self.corpus.entries if n == 1 or shard_of(e.uid, n) == k]
        summary = RunSummary(out=self.out)
        for path, reason in self.corpus.rejected:
            self._fail(path, Path(path), "scan", reason, self.trees)
        if separation is not None:
            entries = self._separate(separation, entries)
            removed = separation.prune({e.uid for e in self.corpus.entries}) \
                if n == 1 and not self.corpus.rejected else 0
            summary.notes.append(f"separation: {separation.separated} track-step(s) separated, {separation.skipped} "
                                 f"done before; stems in {separation.root}"
                                 + (f"; {removed} stem file(s) of tracks no longer in the corpus removed"
                                    if removed else ""))
        with self.profile.stage("scan"):
            self._load_stage_records(entries)
            self._done(planned, entries)
            work = self._work(planned, entries, summary)
        processed: set[str] = set()
        if work:
            processed = self._run_pending(planned, work, summary)
        self._compact_failures(planned, processed)
        summary.failed = len(self.failed_uids)
        summary.done = len(processed - self.failed_uids)
        by_uid = self.entries()
        current = {uid: entry.id for uid, entry in by_uid.items()}
        current |= {str(made.id): made.id for _, made in self.synthetic}
        self._follow_the_corpus(planned, current, summary)
        pieces = {uid: entry.id for uid, entry in by_uid.items() if entry.id.pieces}
        for recipe, ctx in zip(c.recipes, self.contexts, strict=True):
            ctx.failed_uids, ctx.entries, ctx.tree.pieces = self.failed_uids, by_uid, pieces
            summary.notes += recipe.finalize(ctx, [p.output for p in planned if p.tree is ctx.tree])
        summary.wall_seconds = time.monotonic() - started
        if c.profile:
            batch_seconds, workers = self.batching or (0.0, 0)
            summary.notes.append(f"profile: batches of {batch_seconds:g} s of audio (0: one file each), "
                                 f"{workers} decode worker(s)\n"
                                 + self.profile.describe(summary.wall_seconds, in_workers=workers > 0))
        return summary

    def _separate(self, separation: SeparationPass, entries: list[CorpusEntry]) -> list[CorpusEntry]:
        """The separation steps over the run's entries (each step's stems written beside the trees, resumed from
        its done-list); the entries come back reading the last step's kept stem. Their stamps stay those of the
        corpus files, so a song replaced is separated again and everything after it redone."""
        stamps = {entry.uid: self._stamp(entry) for entry in entries}
        total = 0.0
        for entry in entries:
            try:
                total += probe_seconds(entry.path)
            except SvcprepError:
                continue  # reported when the separation reads it
        progress = Progress(total * len(separation.chain.steps))
        try:
            return separation.run(entries, stamps,
                                  lambda uid, path, stage, reason: self._fail(uid, path, "separate",
                                                                              f"{stage}: {reason}", self.trees),
                                  progress.update)
        finally:
            progress.close()

    def _previous_namings(self) -> dict[int, Any]:
        """recipe index -> the naming its tree had before this run (from its recipe record), to find the files of
        entries the corpus no longer has."""
        namings = {}
        for index, (recipe, ctx) in enumerate(zip(self.config.recipes, self.contexts, strict=True)):
            try:
                data = ctx.tree.bookkeeping.read_recipe_record()
                if data is not None and data.get("recipe") == recipe.name:
                    namings[index] = recipe.naming_from_record(data)
            except (SvcprepError, ValueError, TypeError, KeyError, AttributeError):
                continue  # a damaged record: the current naming's files are still pruned
        return namings

    def _follow_the_corpus(self, planned: list[_Planned], current: dict[str, EntryId], summary: RunSummary) -> None:
        """Record the corpus in every tree; then remove the files no current entry owns (a source gone, a piece
        other settings no longer make, a file at a place the layout no longer puts it) from the trees of trainers
        that read every file (so-vits-svc, DDSP-SVC, RVC), and from any tree with ``--overwrite``. A run over one
        shard of the corpus removes only files of sources the corpus no longer has (other shards may be writing the
        rest); the next run over the whole corpus, or ``verify``, sees the rest. A scan that could not read part of
        the corpus removes nothing."""
        for tree in self.trees:
            tree.bookkeeping.write_corpus([entry.uid for entry in self.corpus.entries])
        if self.corpus.rejected:  # an unreadable dir's files are not gone: remove nothing on a partial view
            return
        whole_corpus, sources = self.config.shard[1] == 1, {entry.uid for entry in self.corpus.entries}
        removed = 0
        for p in planned:
            if not (self.config.overwrite or self.config.recipes[p.recipe_index].whole_uids):
                continue
            done = p.done_list.load()

            def keep(id: EntryId, done: dict = done) -> bool:
                if not whole_corpus:  # a piece of a source gone, or (no stages) a source gone
                    return id.source in sources if id.pieces else self.config.stages is not None or str(id) in sources
                entry, real = done.get(str(id)), current.get(str(id))  # a current entry, done from its source now
                return real is not None and entry is not None and entry.source in (None, self.stamps.get(real.source))

            namings = [None]  # the files the tree's naming recognises now
            if p.recipe_index in self.previous_namings:  # and those of the naming it had (sources now gone)
                namings.append(self.previous_namings[p.recipe_index])
            removed += sum(p.tree.sink.prune(file, keep, naming) for file in p.record.files for naming in namings)
        if removed:
            summary.notes.append(f"removed {removed} file(s) no current entry owns (a source gone, other settings, "
                                 "or a layout that moved)")

    def _compact_failures(self, planned: list[_Planned], processed: set[str]) -> None:
        """Keep a failure unless this run redid that uid's stage or output and it succeeded; records of outputs
        this run did not make are left alone."""
        names = {p.output.name for p in planned}
        ok = processed - self.failed_uids
        in_corpus = {e.uid for e in self.corpus.entries} | {str(leaf) for leaves in self.known.values()
                                                              for leaf, _ in leaves}
        rejected = {path for path, _ in self.corpus.rejected}

        def resolved(record: dict[str, Any]) -> bool:
            uid = record.get("uid")
            if not isinstance(uid, str) or (record.get("stage") == "scan" and uid in rejected):
                return False
            if record.get("stage") == "scan":
                return True  # found unusable earlier, fine (or gone) now
            if uid not in in_corpus:
                return True
            output = record.get("output")
            ours = output in names if output else record.get("stage") in CLIP_STAGES
            return uid in ok and ours

        for tree in self.trees:
            tree.bookkeeping.failures.compact(resolved)

    def _run_pending(self, planned: list[_Planned], work: list[tuple[WorkItem, float]],
                     summary: RunSummary) -> set[str]:
        c = self.config
        by_key = {p.key: p for p in planned}
        requests: dict[tuple, Any] = {}
        consumers: dict[tuple, list[str]] = {}
        for p in planned:
            request = p.output.model
            if request is not None:
                requests.setdefault(request.key, request)
                consumers.setdefault(request.key, []).append(p.key)
        setup_started = time.monotonic()
        stage = ModelStage(requests, {k: tuple(v) for k, v in consumers.items()})
        with self.profile.stage("model load"):
            if c.ray is None:
                stage.load()  # in the main process; Ray loads the models in its actors
            batch_seconds, num_workers = self._batching(stage)
            stage.batch_seconds = batch_seconds
        backend = make_backend(c.ray, num_workers)
        for p in planned:  # the models loaded: now the records may be written
            p.tree.bookkeeping.commit_output(p.record, p.old_record)
        for index, (recipe, ctx) in enumerate(zip(c.recipes, self.contexts, strict=True)):
            names = [p.output.name for p in planned if p.recipe_index == index]
            record = {"recipe": recipe.name, "outputs": names, **recipe.record_data(ctx)}
            if c.stages is not None:  # verify finds the pieces' ids in these stage records
                record["stages"] = c.stages.key
                self._stage_records(ctx.tree).write_settings(c.stages.settings())
            made = [str(entry.id) for i, entry in self.synthetic if i == index]
            if made:  # verify checks their files, not whether silence looks like singing
                record["synthetic"] = made
            ctx.tree.bookkeeping.write_recipe_record(record)
        plan = DecodePlan({p.key: p.output for p in planned},
                          {p.key: (p.output.model.audio,) for p in planned if p.output.model is not None},
                          c.stages)
        streamed = StreamedFiles(by_key, stage.models, self._fail, self.stamps.get,
                                 lambda index: c.recipes[index].whole_uids)
        long_files = [(item, seconds) for item, seconds in work
                      if c.ray is None and streamed.wants(item, seconds, c.stream_seconds)]
        progress = Progress(sum(s for _, s in work))
        streamed_items = {id(item) for item, _ in long_files}
        work = [(item, seconds) for item, seconds in work if id(item) not in streamed_items]
        dataset = DecodeDataset(make_batches(work, batch_seconds), plan)
        writer = BackgroundWriter(self._write_failed)
        summary.setup_seconds = time.monotonic() - setup_started
        processed: set[str] = set()
        batches = backend.batches(dataset, stage)
        try:
            if long_files:
                with self.profile.stage("long files, in windows"):
                    for item, seconds in long_files:
                        streamed.run(item, progress.update)
                        processed.add(item.entry.uid)
                        summary.audio_seconds += seconds
                summary.notes.append(f"{len(long_files)} file(s) over {c.stream_seconds:g} s computed a window at a "
                                     "time (memory independent of their length)")
            while True:
                with self.profile.stage("waiting for input"):
                    batch, natives = next(batches, (None, None))
                if batch is None:
                    break
                for key, results in natives.items():
                    name = requests[key].spec.name
                    summary.model_clips[name] = summary.model_clips.get(name, 0) + len(results)
                self._finish_batch(batch, natives, by_key, writer, processed, summary)
                for clip in batch:  # handed to the writer: the decoded audio is no longer needed
                    clip.model_audio.clear()
                    clip.partials.clear()
                seconds = sum(clip.seconds for clip in batch)
                summary.audio_seconds += seconds
                progress.update(seconds)
        except KeyboardInterrupt as exc:
            progress.close()
            writer.close()
            what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            raise RunInterrupted(f"{what}: the files finished so far are saved in {self.out}; rerun the same "
                                 "command to resume", 143 if isinstance(exc, Terminated) else 130) from None
        finally:
            self.profile.add({"model": stage.model_seconds})
        progress.close()
        writer.close()
        self.profile.add({"write": writer.busy_seconds, "hand-off to writer": writer.submit_seconds})
        summary.model_seconds = stage.model_seconds
        return processed

    def _finish_batch(self, batch: list[DecodedClip], natives: dict, by_key: dict[str, _Planned],
                      writer: BackgroundWriter, processed: set[str], summary: RunSummary) -> None:
        for clip in batch:
            self.profile.add(clip.timings)
            if clip.leaves is not None:  # what a corpus entry became, recorded before any of its files is written
                self.known[clip.id.source] = clip.leaves
                for tree in self.trees:
                    self._stage_records(tree).append(clip.id.source, clip.leaves, self.stamps.get(clip.id.source))
            if clip.error:
                self._fail(clip.uid, clip.path, *clip.error, self.trees)
                processed.add(clip.uid)
                continue
            if not clip.pending:
                summary.skipped += 1
                continue
            if not clip.synthetic:  # the corpus's work: counted, and its failures compacted
                processed.add(clip.uid)
            info = clip.info()
            failed: set[str] = set()
            finished: list[tuple[_Planned, dict[str, Any]]] = []
            for key in sorted(clip.pending, key=lambda k: len(by_key[k].depends_on)):
                p = by_key[key]
                files, stage, reason = self._finish_output(clip, info, p, natives, failed, by_key)
                if reason:
                    self._fail(clip.uid, clip.path, stage, reason, [p.tree], p.output.name)
                    failed.add(key)
                else:
                    finished.append((p, files))
            for p, files in finished:
                whole = self.config.recipes[p.recipe_index].whole_uids
                lost = sorted(by_key[k].output.name for k in failed if by_key[k].recipe_index == p.recipe_index)
                if whole and lost:  # this recipe's tree takes a uid whole or not at all
                    self._fail(clip.uid, clip.path, p.output.stage, f"not written: {', '.join(lost)} failed for this "
                               "clip, and this project's tree takes an utterance whole", [p.tree], p.output.name)
                    continue
                writer.submit(WriteJob(clip.id, p.tree.sink, [(f, files[f.name]) for f in p.record.files], p.done_list,
                                       p.output.name, None if clip.synthetic else self.stamps.get(clip.id.source)))

    def _finish_output(self, clip: DecodedClip, info: Any, p: _Planned, natives: dict, failed: set[str],
                       by_key: dict[str, _Planned]) -> tuple[dict[str, Any], str, str | None]:
        """(files, failure stage, failure reason or ``None``) of one pending output of one clip."""
        output = p.output
        if p.key in clip.output_errors:
            stage, reason = clip.output_errors[p.key]
            return {}, stage, reason
        lost = [by_key[d].output.name for d in p.depends_on if d in failed]
        if lost:
            return {}, output.stage, f"not made: {', '.join(lost)} failed for this clip, and this output's rows " \
                                     "follow it"
        native = None
        if output.model is not None:
            native = natives.get(output.model.key, {}).get(clip.uid)
            if native is None or isinstance(native, str):
                return {}, output.model_stage, native or "no model output"
        try:
            with self.profile.stage("align"):
                files = output.finish(info, clip.partials.get(p.key), native)
            return files, output.stage, _non_finite(files)
        except CLIP_ERRORS as exc:
            return {}, output.stage, str(exc) or type(exc).__name__

    def _write_failed(self, job: WriteJob, reason: str) -> None:
        tree = next(t for t in self.trees if t.sink is job.sink)
        self._fail(str(job.id), Path(job.sink.describe(job.files[0][0], job.id)), "write", reason, [tree], job.output)

    def _batching(self, stage: ModelStage) -> tuple[float, int]:
        """(seconds of audio per batch, decode workers): the user's values, else what fits the device."""

        c = self.config
        models = stage.loaded()
        if c.ray is not None:
            gpu = c.ray.gpus_per_worker > 0
            batch_seconds = c.batch_seconds if c.batch_seconds is not None else (120.0 if gpu else 0.0)
            self.batching = (batch_seconds, 0)
            return self.batching
        on_gpu = bool(models) and models[0].device.type == "cuda"
        num_workers = c.num_workers if c.num_workers is not None else \
            device_defaults.default_num_workers(on_gpu, bool(stage.requests))
        if c.batch_seconds is not None:
            batch_seconds = c.batch_seconds
        elif on_gpu:
            batch_seconds = device_defaults.gpu_batch_seconds(models, models[0].device)
        else:
            batch_seconds = 0.0  # one file per model call
        self.batching = (batch_seconds, num_workers)
        return self.batching


def _terminate(signum, frame) -> None:
    raise Terminated()


def run_pipeline(config: RunConfig) -> RunSummary:
    """Run ``config``; SIGTERM stops it like Ctrl-C (finished files kept, temp files removed, exit 143)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return Pipeline(config).run()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return Pipeline(config).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
