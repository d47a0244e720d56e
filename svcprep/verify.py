"""``svcprep verify``: check a whole output root against its own records, for any recipe.

For every output named in the root's recipe record: its record exists and reads; every uid in the done-list of
the current settings has each file, unchanged since it was written (the sha256 in the done entry), readable,
of the recorded dtype; rows equal the expected frame count (from the reference file the record names) or, for
native-rate features, cover it within the recorded tolerance on the recorded grids; float values are finite;
content is plausible (a feature is not all zeros, a log-mel lies within its floor and a sane ceiling, F0 lies
within the audible range and voicing equals F0 != 0); a file present but absent from the current done-list is
stale (made under other settings, or by hand). Dataset-level files must be unchanged since svcprep wrote them,
and each recipe adds its own tree checks (Amphion's statistics, so-vits-svc's and RVC's file lists, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svcprep.corpus.records import StageRecords
from svcprep.corpus.separation import SEPARATED_DIR, check_separated, is_separated_root
from svcprep.errors import StorageError, SvcprepError
from svcprep.ids import EntryId
from svcprep.outputs.base import Output
from svcprep.outputs.records import OutputRecord, RecordError
from svcprep.recipes import recipe_class
from svcprep.recipes.base import MAX_LISTED
from svcprep.store.bookkeeping import BOOKKEEPING, Bookkeeping
from svcprep.store.tree import OutputTree


@dataclass
class OutputCheck:
    name: str
    files: int = 0
    ok: int = 0
    hours: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (uid or where, what)

    def problem(self, uid: str, what: str) -> None:
        self.problems.append((uid, what))

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.name, "files": self.files, "ok": self.ok, "hours": round(self.hours, 4),
                "problems": [{"uid": u, "problem": p} for u, p in self.problems]}


def recipe_roots(out: Path) -> list[Path]:
    """``out`` itself when it holds svcprep bookkeeping, else its sub-dirs that do (a several-recipe run), but
    not the separated stems beside them (no trainer reads those)."""
    if (out / BOOKKEEPING).is_dir():
        return [out]
    return sorted(p for p in out.iterdir() if (p / BOOKKEEPING).is_dir() and p.name != SEPARATED_DIR)


def open_recipe_tree(root: Path) -> tuple[OutputTree, dict[str, Any], Any]:
    """The root's output tree (its sink opened with the recipe's naming), the recipe record, and the recipe's
    class."""
    bookkeeping = Bookkeeping(root)
    data = bookkeeping.read_recipe_record() or {"recipe": "amphion", "outputs": bookkeeping.recorded_outputs()}
    recipe = recipe_class(data["recipe"])
    tree = OutputTree.open(root, recipe.naming_from_record(data))
    corpus = bookkeeping.read_corpus()
    sources: dict = {}
    if isinstance(data.get("stages"), str):  # the pieces' ids, from the records of the run's corpus stages
        sources = StageRecords(bookkeeping, data["stages"], "read").load()
        tree.pieces = {str(id): id for leaves in sources.values() for id, _ in leaves if id.pieces}
    if corpus is not None:  # the entries of the corpus the last run saw: done entries of others are gone ones
        made = set(data.get("synthetic", ()))
        if sources:
            tree.current = made | {str(id) for source in corpus for id, _ in sources.get(source, [])}
        else:
            tree.current = made | corpus
    return tree, data, recipe


def separated_checks(root: Path, prefix: str, check_hashes: bool) -> list[OutputCheck]:
    return [OutputCheck(f"{prefix}{c.step}", c.files, c.ok, problems=c.problems)
            for c in check_separated(root, check_hashes)]


def verify_root(out: Path, check_hashes: bool = True) -> list[OutputCheck]:
    if is_separated_root(out):  # svcprep separate --out
        return separated_checks(out, "", check_hashes)
    checks: list[OutputCheck] = []
    if is_separated_root(out / SEPARATED_DIR):  # the stems beside a run's trees
        checks += separated_checks(out / SEPARATED_DIR, f"{SEPARATED_DIR}/", check_hashes)
    for root in recipe_roots(out):
        prefix = "" if root == out else f"{root.name}/"
        try:
            tree, data, recipe = open_recipe_tree(root)
        except (RecordError, StorageError) as exc:
            checks.append(OutputCheck(f"{prefix}recipe", problems=[(str(root), str(exc))]))
            continue
        records: dict[str, OutputRecord] = {}
        bookkeeping = OutputCheck(f"{prefix}records")
        for name in sorted(set(data.get("outputs", [])) | set(tree.bookkeeping.recorded_outputs())):
            try:
                record = tree.bookkeeping.read_record(name)
            except RecordError as exc:
                bookkeeping.problem(name, str(exc))
                continue
            if record is None:
                bookkeeping.problem(name, "the recipe made this output but its record (meta.json) is gone: its "
                                          "files cannot be checked or trusted; rerun with --overwrite")
            else:
                records[name] = record
        verifier = _Verifier(tree, records, check_hashes, frozenset(data.get("synthetic", ())))
        for record in records.values():
            check = verifier.check_output(record)
            check.name = prefix + check.name
            checks.append(check)
        dataset = OutputCheck(f"{prefix}dataset files")
        for name, digest in tree.bookkeeping.dataset_file_hashes().items():
            dataset.files += 1
            if not tree.sink.has_dataset_file(name):
                dataset.problem(name, "missing")
            elif check_hashes and tree.sink.dataset_sha256(name) != digest:
                dataset.problem(name, "changed since svcprep wrote it (sha256 differs): rerun to rewrite it")
            else:
                dataset.ok += 1
        for where, what in recipe.verify_tree(tree, records, data):
            dataset.problem(where, what)
        stray = tree.sink.unowned([f for record in records.values() for f in record.files])
        for where in stray[:MAX_LISTED]:
            dataset.problem(where, "a file no entry owns (named like none of the tree's files; stale, or added by "
                                   "hand): remove it")
        if len(stray) > MAX_LISTED:
            dataset.problem("*", f"{len(stray) - MAX_LISTED} more file(s) no entry owns")
        if bookkeeping.problems:
            checks.insert(0, bookkeeping)
        if dataset.files or dataset.problems:
            checks.append(dataset)
    return checks


class _Verifier:
    def __init__(self, tree: OutputTree, records: dict[str, OutputRecord], check_hashes: bool,
                 synthetic: frozenset[str] = frozenset()) -> None:
        self.synthetic = synthetic  # entries a recipe made (silence): their content is not held to a singer's
        self.tree, self.sink, self.bookkeeping = tree, tree.sink, tree.bookkeeping
        self.records, self.check_hashes = records, check_hashes
        self.file_owner = {f.name: r for r in records.values() for f in r.files}
        self._reference_rows: dict[tuple[str, str], int | None] = {}

    def expected_rows(self, record: OutputRecord, uid: EntryId) -> int | None | str:
        """Rows the files of ``uid`` should have, ``None`` when unknown, or a problem text."""
        frames = record.frames
        if frames is None:
            return None
        owner = self.file_owner.get(frames.reference)
        if owner is None:
            return None
        key = (frames.reference, uid)
        if key not in self._reference_rows:
            file = owner.file(frames.reference)
            try:
                shape, _ = self.sink.header(file, uid) if self.sink.exists(file, uid) else (None, None)
            except (OSError, ValueError, StorageError):
                shape = None
            self._reference_rows[key] = None if shape is None or len(shape) <= frames.axis else shape[frames.axis]
        length = self._reference_rows[key]
        if length is None:
            return f"its reference {self.sink.describe(owner.file(frames.reference), uid)} is missing or unreadable"
        return frames.expected(length)

    def check_output(self, record: OutputRecord) -> OutputCheck:
        check = OutputCheck(record.output)
        done_list = self.bookkeeping.done_list(record, "verify")
        current = self.tree.current
        done = {uid: entry for uid, entry in done_list.load().items() if current is None or uid in current}
        if done_list.bad_lines:
            check.problem("done-list", f"{done_list.bad_lines} line(s) are not svcprep done entries (damaged)")
        present: set[str] = set()
        for file in record.files:
            present |= {str(id) for id in self.sink.uids(file)}
            for where in self.sink.misplaced(file)[:MAX_LISTED]:
                check.problem(where, "a file where the tree's layout no longer puts it (the corpus changed since it "
                              "was written): rerun with --overwrite")
        for uid in sorted(present - set(done))[:MAX_LISTED]:
            check.problem(uid, "file present but not finished under the current settings, or no entry of the corpus "
                          "owns it (stale, or added by hand)")
        extra = len(present - set(done)) - MAX_LISTED
        if extra > 0:
            check.problem("*", f"{extra} more stale file(s)")
        widths: set[Any] = set()
        for uid, entry in sorted(done.items()):
            check.files += 1
            what = self._check_uid(record, self.tree.id_of(uid), entry.sha256, widths)
            if what:
                check.problem(uid, what)
            else:
                check.ok += 1
        if len(widths) > 1:
            check.problem("*", f"files disagree in width: {sorted(map(str, widths))}")
        return check

    def _check_uid(self, record: OutputRecord, uid: EntryId, hashes: dict[str, str], widths: set) -> str | None:
        arrays: dict[str, Any] = {}
        for file in record.files:
            if not self.sink.exists(file, uid):
                return f"recorded as done but {self.sink.describe(file, uid)} is missing"
            if self.check_hashes and file.name in hashes and self.sink.sha256(file, uid) != hashes[file.name]:
                return f"{file.name} changed since it was written (sha256 differs)"
            try:
                value = self.sink.read(file, uid)
            except (OSError, ValueError, EOFError, SvcprepError) as exc:  # a damaged .pt is a CheckpointError
                return f"{file.name} unreadable ({type(exc).__name__}: {str(exc)[:160]})"
            array = getattr(value, "samples", value)
            if file.codec in ("npy", "torch") and str(array.dtype) != file.dtype:
                return f"{file.name}: dtype {array.dtype}, the record says {file.dtype}"
            if isinstance(array, np.ndarray) and array.dtype != object and np.issubdtype(array.dtype, np.floating) \
                    and not np.isfinite(array).all():
                return f"{file.name}: NaN or infinite values"
            arrays[file.name] = array
        expected = self.expected_rows(record, uid)
        if isinstance(expected, str) or str(uid) in self.synthetic:
            return expected if isinstance(expected, str) else None
        kind = Output.of_kind(record.kind)
        width = kind.width(record, arrays)
        if width is not None:
            widths.add(width)
        return kind.check_files(record, arrays, expected)


def describe(checks: list[OutputCheck]) -> str:
    lines = [f"{'output':<28} {'files':>7} {'ok':>7}  problems"]
    for c in checks:
        listed = "; ".join(f"{uid}: {what}" for uid, what in c.problems[:MAX_LISTED])
        more = f" (+{len(c.problems) - MAX_LISTED} more)" if len(c.problems) > MAX_LISTED else ""
        lines.append(f"{c.name:<28} {c.files:>7} {c.ok:>7}  {listed or '-'}{more}")
    return "\n".join(lines)
