"""What a report reads: the clips of a corpus (before), or the audio an svcprep output tree stores for its trainer
(after), each with its uid, file and singer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from svcprep.corpus.scan import load_corpus
from svcprep.corpus.separation import is_separated_root, stem_files
from svcprep.errors import ConfigError
from svcprep.verify import open_recipe_tree, recipe_roots


@dataclass(frozen=True)
class ReportClip:
    uid: str
    path: Path
    singer: str


@dataclass(frozen=True)
class ReportSource:
    """``kind``: ``corpus``, ``tree`` or ``stems`` (a separation's output); ``trainer``: the recipe whose tree it
    is (``None`` otherwise);
    ``rejected``: (path, reason) of files found but unusable."""

    kind: str
    root: Path
    clips: tuple[ReportClip, ...]
    trainer: str | None = None
    rejected: tuple[tuple[str, str], ...] = ()


def _singer(naming: object, id: object, fallback: str) -> str:
    """The speaker the trainer's layout gives the entry (so-vits-svc's and DDSP-SVC's speaker folders), else the
    first path component of its source uid (an audio dir's singer folder), else the tree's name."""
    table = getattr(naming, "table", None)
    if table is not None:
        try:
            return table.speaker_and_stem(id)[0]
        except KeyError:
            pass
    source = str(getattr(id, "source", id))
    return source.split("/", 1)[0] if "/" in source else fallback


def _tree_clips(root: Path) -> tuple[str, list[ReportClip]]:
    tree, data, _ = open_recipe_tree(root)
    records = [r for r in (tree.bookkeeping.read_record(name) for name in data.get("outputs", ()))
               if r is not None and r.kind == "audio"]
    if not records:
        raise ConfigError(f"{root}: this {data['recipe']} tree stores no audio (its trainer reads the corpus); "
                          "report on the corpus instead", "path")
    record = max(records, key=lambda r: r.settings.get("sample_rate") or 0)  # the trainer's own rate
    synthetic = set(data.get("synthetic", ()))
    clips = []
    for uid in sorted(tree.finished_in_all([record]) - synthetic):
        id = tree.id_of(uid)
        path = Path(tree.sink.location(record.files[0], id))
        clips.append(ReportClip(uid, path, _singer(tree.sink.naming, id, root.name)))
    return data["recipe"], clips


def open_source(path: Path) -> ReportSource:
    """A corpus (audio dir, manifest, Amphion dataset dir) or an svcprep output dir (one recipe's root, or a run's
    dir holding several)."""
    if not path.exists():
        raise ConfigError(f"{path} does not exist", "path")
    if path.is_dir() and is_separated_root(path):  # `svcprep separate --out`, or a run's separated/ dir
        clips = tuple(ReportClip(f"{step}/{stem}/{uid}", stem_path, uid.split("/", 1)[0] if "/" in uid else step)
                      for step, stem, uid, stem_path in stem_files(path))
        return ReportSource("stems", path, clips)
    roots = recipe_roots(path) if path.is_dir() else []
    if roots:
        trainers, clips = set(), []
        for root in roots:
            trainer, found = _tree_clips(root)
            trainers.add(trainer)
            prefix = "" if root == path else f"{root.name}/"
            clips += [ReportClip(prefix + c.uid, c.path, c.singer) for c in found]
        trainer = trainers.pop() if len(trainers) == 1 else None
        return ReportSource("tree", path, tuple(clips), trainer)
    corpus = load_corpus(path)
    clips = tuple(ReportClip(e.uid, e.path, e.singer or corpus.root.name) for e in corpus.entries)
    return ReportSource("corpus", corpus.root, clips, rejected=corpus.rejected)
