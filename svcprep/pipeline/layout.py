"""Every path under an output root, decided in one place.

Feature dirs hold only ``<uid>.npy`` files, so that tools which count the files of a dir (Amphion decides
whether to re-extract a feature that way) see exactly one file per utterance. Bookkeeping lives apart::

    OUT/mels/<uid>.npy                     (n_mels, T) or (T, n_mels), as the preset says
    OUT/pitches/<uid>.npy                  (T,) F0 in Hz, 0 = unvoiced (one done-list with uvs/)
    OUT/uvs/<uid>.npy                      (T,) bool, True = voiced (Amphion's convention)
    OUT/energys/<uid>.npy                  (T,) from the mel (Amphion's from_mel)
    OUT/pitches/statistics.json            per-singer F0 statistics (Amphion's file and format)
    OUT/mel_min_max_stats/mel_{min,max}.npy  per-bin extrema over every uid
    OUT/singers.json, OUT/utt2singer       Amphion's singer table and utterance map (when absent)
    OUT/svcprep_amphion.json               config fragment to merge over an Amphion exp_config
    OUT/<feature>/<uid>.npy                (T_mel, D), aligned to the mel frame count
    OUT/<feature>_native/<uid>.npy         (T_native, D), with --keep-native
    OUT/_failures.jsonl                    one record per (uid, stage, output): path, reason
    OUT/.svcprep/<output>/meta.json        model, options and grids the files were made with
    OUT/.svcprep/<output>/done/<key>/*.txt uids finished under settings ``key``, one file per shard
    OUT/.svcprep/tmp/                      temp files of atomic writes (same filesystem as the outputs)

Layout of svcprep 0.1 (``OUT/<output>/_meta.json`` and ``OUT/<output>/_done/``) is recognised: see
:mod:`svcprep.pipeline.provenance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MELS = "mels"
PITCHES = "pitches"
UVS = "uvs"
ENERGYS = "energys"
MEL_STATS = "mel_min_max_stats"
BOOKKEEPING = ".svcprep"
RESERVED_OUTPUTS = (MELS, PITCHES, UVS, ENERGYS, MEL_STATS)


@dataclass(frozen=True)
class OutputLayout:
    root: Path

    # -- outputs users read ------------------------------------------------------------------------
    def output_dir(self, output: str) -> Path:
        return self.root / output

    def file(self, output: str, uid: str) -> Path:
        return self.root / output / f"{uid}.npy"

    @staticmethod
    def native_name(feature: str) -> str:
        return f"{feature}_native"

    @property
    def pitch_statistics(self) -> Path:
        return self.root / PITCHES / "statistics.json"

    def mel_extremum(self, which: str) -> Path:
        return self.root / MEL_STATS / f"mel_{which}.npy"

    @property
    def singers(self) -> Path:
        return self.root / "singers.json"

    @property
    def utt2singer(self) -> Path:
        return self.root / "utt2singer"

    @property
    def amphion_fragment(self) -> Path:
        return self.root / "svcprep_amphion.json"

    @property
    def failure_log(self) -> Path:
        return self.root / "_failures.jsonl"

    # -- bookkeeping -------------------------------------------------------------------------------
    @property
    def bookkeeping_dir(self) -> Path:
        return self.root / BOOKKEEPING

    @property
    def temp_dir(self) -> Path:
        return self.bookkeeping_dir / "tmp"

    def meta_path(self, output: str) -> Path:
        return self.bookkeeping_dir / output / "meta.json"

    def done_dir(self, output: str, settings_key: str) -> Path:
        return self.bookkeeping_dir / output / "done" / settings_key

    def done_root(self, output: str) -> Path:
        return self.bookkeeping_dir / output / "done"

    # -- svcprep 0.1 layout (bookkeeping inside the output dir) ------------------------------------
    def legacy_meta_path(self, output: str) -> Path:
        return self.root / output / "_meta.json"

    def legacy_done_dir(self, output: str) -> Path:
        return self.root / output / "_done"
