"""Applio (RVC's most used trainer): the model dir its training reads, OUT = ``<applio>/logs/<model>``::

    MODEL/sliced_audios/<sid>_<i>_<j>.wav        float32 at the model rate: RVC's slicer, 3.0 s pieces with 0.3 s
                                                 overlap, each x / max·0.9·0.75 + 0.25·x (Applio's "post" mode)
    MODEL/sliced_audios_16k/<sid>_<i>_<j>.wav    the piece at 16 kHz (soxr very-high quality, librosa's length)
    MODEL/f0/<name>.wav.npy                      coarse pitch 1..255 (int64) of f0_voiced
    MODEL/f0_voiced/<name>.wav.npy               (L16 // 160 + 1,) F0 in Hz, 0 = unvoiced (RMVPE at 0.03)
    MODEL/extracted/<name>.npy                   (T50, 768) float32: ContentVec's last hidden state
    MODEL/mute/...                               silence through the same models: the mute rows' files
    MODEL/filelist.txt                           wav|feat|f0|f0nsf|sid, two mute rows per speaker
    MODEL/model_info.json, MODEL/config.json     what its training reads from the model dir

``sid`` is the singer's index among the corpus's singers (sorted), ``i`` the take's index among the corpus's takes
(sorted by uid), ``j`` the piece's. The pieces, pitch and features are RVC's outputs under other names; a run with
``-c rvc -c applio`` shares the decode and each model's forward where the audio is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from svcprep.audio.io import resampled_num_samples
from svcprep.audio.slicing import slice_settings_from
from svcprep.corpus.scan import Corpus
from svcprep.errors import ConfigError
from svcprep.recipes.applio_files import (
    CONFIG,
    FILELIST,
    MODEL_INFO,
    RATES,
    check_applio_tree,
    model_info,
    training_config,
    write_filelist,
)
from svcprep.recipes.base import RecipeContext
from svcprep.recipes.rvc import VERSIONS, RvcNaming, RvcRecipe
from svcprep.store.naming import Naming

NAME = "applio"


class ApplioNaming(RvcNaming):
    DIRS = {"gt": "sliced_audios", "wav16k": "sliced_audios_16k", "f0": "f0", "f0nsf": "f0_voiced"}

    def __init__(self, stems: dict[str, str]) -> None:
        super().__init__(stems, "extracted")


def singer_ids(corpus: Corpus) -> dict[str, int]:
    return {singer: index for index, singer in enumerate(sorted({e.singer for e in corpus.entries}))}


def applio_stems(corpus: Corpus) -> dict[str, str]:
    """uid -> ``<sid>_<i>``: the singer's index and the take's index in the corpus (Applio's naming)."""
    speakers = singer_ids(corpus)
    return {entry.uid: f"{speakers[entry.singer]}_{index}"
            for index, entry in enumerate(sorted(corpus.entries, key=lambda e: e.uid))}


@dataclass(frozen=True)
class ApplioRecipe(RvcRecipe):
    name = NAME
    encoders = {"v2": VERSIONS["v2"]}  # Applio trains v2 models only (768-wide embedders)
    resample_rule: ClassVar[str] = "librosa_vhq"  # Applio resamples with librosa's soxr_vhq

    def __post_init__(self) -> None:
        if self.version != "v2":
            raise ConfigError(f"Applio trains v2 models only, got {self.version!r}", "version")
        if self.sample_rate not in RATES:
            raise ConfigError(f"must be one of {', '.join(map(str, RATES))} (Applio's training configs), got "
                              f"{self.sample_rate!r}", "sample_rate")

    @property
    def title(self) -> str:
        return "Applio"

    @property
    def default_slicing(self):
        return slice_settings_from({"preset": "applio", "sample_rate": self.sample_rate})

    def naming(self, corpus: Corpus) -> Naming:
        return ApplioNaming(applio_stems(corpus))

    def record_data(self, ctx: RecipeContext) -> dict[str, Any]:
        return {"stems": ctx.sink.naming.stems, "sample_rate": self.sample_rate}

    def layout_settings(self, ctx: RecipeContext) -> dict[str, Any]:
        """``<sid>_<i>``: the singer's and the take's index in the whole corpus; a clip added or removed renames
        others' pieces, so the change is refused (``--overwrite`` rebuilds) rather than written and then pruned."""
        return {"stems": ctx.sink.naming.stems}

    @classmethod
    def naming_from_record(cls, data: dict[str, Any]) -> Naming:
        return ApplioNaming(dict(data.get("stems", {})))

    @classmethod
    def verify_tree(cls, tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
        return check_applio_tree(tree, records, data)

    def finalize(self, ctx: RecipeContext, outputs: list) -> list[str]:
        tree = ctx.tree
        count, speakers = write_filelist(tree, ctx, outputs, singer_ids(ctx.corpus))
        sources = {ctx.entries[uid].id.source for uid in ctx.done_uids(outputs)}
        total_seconds = sum(self._seconds_at_model_rate(ctx, source) for source in sorted(sources))
        tree.write_dataset_file(MODEL_INFO, "json", model_info(total_seconds, len(speakers)))
        tree.write_dataset_file(CONFIG, "json", training_config(self.sample_rate))
        notes = [f"Applio: {count} pieces of {len(speakers)} speaker(s) in {tree.sink.dataset_location(FILELIST)} "
                 f"(+{2 * len(speakers)} mute rows); {MODEL_INFO} and {CONFIG} beside it"]
        if self.pitch_note:
            notes.insert(0, self.pitch_note)
        return notes

    def _seconds_at_model_rate(self, ctx: RecipeContext, source: str) -> float:
        """A take's duration as Applio counts it: its length resampled to the model rate, in seconds."""
        import soundfile as sf

        entry = next(e for e in ctx.corpus.entries if e.uid == source)
        info = sf.info(str(entry.path))
        return resampled_num_samples(info.frames, info.samplerate, self.sample_rate, self.resample_rule) \
            / self.sample_rate
