"""What a recipe is, and what the run gives it: the corpus, its output tree, model resolution and fingerprints."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from svcprep.corpus.entries import Entry, SyntheticEntry
from svcprep.corpus.scan import Corpus
from svcprep.errors import ConfigError, SvcprepError
from svcprep.extractors.hub import cached_fingerprint
from svcprep.extractors.registry import resolve_extractor
from svcprep.outputs.base import ModelRequest
from svcprep.pitch.registry import resolve_tracker
from svcprep.store.naming import DEFAULT_NAMING, Naming
from svcprep.store.tree import OutputTree


@dataclass
class RecipeContext:
    """A recipe's view of the run: the corpus, its output tree (sink and bookkeeping), the model device and dtype."""

    corpus: Corpus
    tree: OutputTree
    device: str = "auto"
    dtype: str = "float32"
    stages: Any = None  # the run's StageChain (its pieces are known once a corpus entry is decoded)
    failed_uids: set[str] = field(default_factory=set)
    entries: dict[str, Entry] = field(default_factory=dict)  # uid -> entry the outputs saw (set before finalize)
    _fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def sink(self):
        return self.tree.sink

    def resolve_extractor(self, config) -> Any:
        """An :class:`ExtractorConfig` resolved (model located, spec from its config files), not loaded."""

        return resolve_extractor(config.name, config.model, **{**config.options, "device": self.device,
                                                               "dtype": self.dtype, "verify": False})

    def resolve_tracker(self, settings) -> Any:
        return resolve_tracker(settings.method, settings.model, threshold=settings.voicing_threshold,
                               device=self.device, dtype=self.dtype)

    def fingerprint(self, path: Path) -> str:
        key = str(path)
        if key not in self._fingerprints:
            self._fingerprints[key] = cached_fingerprint(path, self.tree.bookkeeping.dir)
        return self._fingerprints[key]

    def content_and_pitch(self, extractor, width: int, audio_of, pitch, what: str) -> tuple[Any, str, Any, Any]:
        """(content request, its checkpoint sha256, tracker request or ``None``, tracker sha256) of a recipe that
        reads ``width``-d content from one extractor; ``audio_of(sample_rate)`` gives the audio each model reads."""

        resolved = self.resolve_extractor(extractor)
        if resolved.spec.dim != width:
            raise ConfigError(f"{what} is {width}-d but the model gives {resolved.spec.dim}-d features "
                              f"({resolved.model}); choose the matching setting or model", "model")
        content = ModelRequest(resolved, audio_of(resolved.spec.sample_rate))
        tracker, tracker_sha = None, None
        if pitch.on_model_device:
            tracked = self.resolve_tracker(pitch)
            tracker = ModelRequest(tracked, audio_of(tracked.spec.sample_rate))
            tracker_sha = self.fingerprint(tracked.path)
        return content, self.fingerprint(resolved.path), tracker, tracker_sha

    def done_uids(self, outputs: list) -> set[str]:
        """uids of the run's entries whose every listed output is done under its current settings."""
        return self.tree.done_uids(outputs) & self.entries.keys()


class Recipe:
    """A project's on-disk tree. Subclasses are frozen dataclasses of their settings: a run config's keys are the
    dataclass's fields (:meth:`settings_keys`); ``verify``, which has the records and no run config, finds the
    files again through :meth:`naming_from_record` and checks the tree with :meth:`verify_tree`."""

    name: ClassVar[str] = ""
    default_slicing: ClassVar[Any] = None  # SliceSettings of a trainer that trains on pieces (a slice stage)
    whole_uids: ClassVar[bool] = False  # write an utterance's files only when every output of it succeeded
    derived_fields: ClassVar[tuple[str, ...]] = ()  # fields the parser fills, never a config key

    # -- settings ----------------------------------------------------------------------------------------------
    @classmethod
    def settings_keys(cls) -> tuple[str, ...]:
        """The keys a run config may give this recipe (besides ``recipe:``)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in cls.derived_fields)

    @classmethod
    def check_keys(cls, values: dict[str, Any]) -> None:
        unknown = sorted(set(values) - set(cls.settings_keys()))
        if unknown:
            valid = ", ".join(sorted(("recipe", *cls.settings_keys())))
            raise ConfigError(f"unknown key(s) {', '.join(unknown)}; valid: {valid}")

    @classmethod
    def from_settings(cls, data: dict[str, Any], base: Path, *, model_paths: dict[str, str],
                      options: dict[str, dict]) -> Recipe:
        """The recipe a run config's mapping describes (relative paths relative to ``base``), ``--model`` and
        ``--set`` applied; unknown keys are refused."""
        cls.check_keys(data)
        return cls(**data)

    # -- what verify needs ---------------------------------------------------------------------------------------
    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        """The naming of a tree this recipe wrote, from its record (:meth:`record_data`)."""
        return DEFAULT_NAMING

    @classmethod
    def verify_tree(cls, tree: OutputTree, records: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str]]:
        """``(where, problem)`` for what this project's loader would trip on, beyond each output's own checks."""
        return []

    # -- the run -------------------------------------------------------------------------------------------------

    def option_names(self) -> set[str]:
        """What ``--model NAME=...`` / ``--set NAME.key=...`` may name in this recipe."""
        return set()

    def naming(self, corpus: Corpus) -> Naming:
        """Where this recipe's files of the corpus go (the sink is opened with it)."""
        return DEFAULT_NAMING

    def check(self, ctx: RecipeContext) -> None:
        """Usage errors (exit 2), found before any model loads or any file is written."""

    def outputs(self, ctx: RecipeContext) -> list:
        raise NotImplementedError

    def synthetic_entries(self, ctx: RecipeContext) -> list[SyntheticEntry]:
        """Entries this recipe's tree needs that no corpus has (RVC's mute rows), run through its outputs like the
        others (same models, same files, done-lists and resume)."""
        return []

    def frames_on_disk(self, ctx: RecipeContext, uids: list[str]) -> dict[str, dict[str, int]]:
        """Row counts fixed by files of this root that the run does not rewrite (uid -> file -> rows)."""
        return {}

    def layout_settings(self, ctx: RecipeContext) -> dict[str, Any]:
        """What of this recipe's layout of the whole corpus decides where an entry's files go or what they hold
        (DDSP-SVC: speaker ids, val split): part of every output's record, so that a corpus change that moves
        existing files is refused (``--overwrite`` rebuilds the tree) instead of leaving them where they were."""
        return {}

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        """What ``verify`` needs to find this recipe's files again (:meth:`naming_from_record`)."""
        return {}

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        """Dataset-level files once the run's pass is over; returns notes for the summary."""
        return []


MAX_LISTED = 5  # problems ``verify`` lists per output (the count of the rest follows)

# What reading one uid's files may raise in a tree check: a file missing, cut short, or not what it claims to be.
READ_ERRORS = (OSError, ValueError, EOFError, SvcprepError)


def finished_in_all(tree: OutputTree, records: dict, names: tuple[str, ...]) -> set[str]:
    """The uids in the current done-list of every output named."""
    return tree.finished_in_all([records[name] for name in names])


def uid_problems(tree: OutputTree, uids, check_uid) -> list[tuple[str, str]]:
    """``(uid, problem)`` for the first uids (sorted) whose ``check_uid(id)`` returns a problem, at most
    ``MAX_LISTED``; a file that cannot be read is that uid's problem, never a crash of ``verify``."""
    problems: list[tuple[str, str]] = []
    for uid in sorted(uids):
        try:
            what = check_uid(tree.id_of(uid))
        except READ_ERRORS as exc:
            what = f"a file cannot be read: {exc}"
        if what:
            problems.append((uid, what))
            if len(problems) >= MAX_LISTED:
                break
    return problems


