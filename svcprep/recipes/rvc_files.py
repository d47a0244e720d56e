"""RVC's file names and dataset-level files (the mute rows' files, ``filelist.txt``), its coarse pitch, and the tree
checks of ``verify``."""

from __future__ import annotations

from typing import Any

import numpy as np

from svcprep.ids import EntryId
from svcprep.recipes.base import finished_in_all, uid_problems

MIN_PIECE_SECONDS, MAX_PIECE_SECONDS = 0.75, 6.75  # RVC's bucket sampler keeps these
F0_MIN, F0_MAX, F0_BINS = 50.0, 1100.0, 256
FILELIST, FRAGMENT, MUTE = "filelist.txt", "svcprep_rvc.json", "mute"
MUTE_ID = EntryId(MUTE)  # never a corpus entry's id: RVC's entries are all pieces
MUTE_SECONDS = 1.5  # RVC ships 1.5 s mute files


def coarse_pitch(f0: np.ndarray) -> np.ndarray:
    """RVC's ``coarse_f0``: mel-scaled F0 mapped between 50 and 1100 Hz onto bins 1..255, rounded; 1 when unvoiced."""
    mel_min, mel_max = 1127 * np.log(1 + F0_MIN / 700), 1127 * np.log(1 + F0_MAX / 700)
    mel = 1127 * np.log(1 + np.asarray(f0, dtype=np.float64) / 700)
    voiced = mel > 0
    mel[voiced] = (mel[voiced] - mel_min) * (F0_BINS - 2) / (mel_max - mel_min) + 1
    return np.rint(np.clip(mel, 1, F0_BINS - 1)).astype(np.int64)


def write_filelist(tree, ctx, outputs: list) -> int:
    """One ``gt|feature|2a|2b|speaker id`` row per finished piece (absolute paths), plus the two mute rows."""
    files = {f.name: f for output in outputs for f in output.files}
    ids = {singer: i for i, singer in enumerate(sorted({e.singer for e in ctx.corpus.entries}))}
    complete = sorted(ctx.done_uids(outputs))

    def row(id: EntryId, speaker_id: int) -> str:
        return "|".join(tree.sink.location(files[name], id) for name in ("gt", "feature", "f0", "f0nsf")) \
            + f"|{speaker_id}"

    rows = [row(ctx.entries[uid].id, ids[ctx.entries[uid].singer]) for uid in complete]
    if str(MUTE_ID) in tree.done_uids(outputs):
        rows += [row(MUTE_ID, 0)] * 2
    tree.write_text(FILELIST, "\n".join(rows) + "\n")
    return len(complete)


def check_tree(tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
    if not all(n in records for n in ("gt", "wav16k", "pitch", "feature")):
        return [("rvc", "a core output has no record")]
    pitch, gt = records["pitch"], records["gt"]

    def check_uid(uid: EntryId) -> str | None:
        f0nsf = tree.sink.read(pitch.file("f0nsf"), uid)
        coarse = tree.sink.read(pitch.file("f0"), uid)
        length = tree.sink.header(records["wav16k"].files[0], uid)[0][0]
        seconds = tree.sink.header(gt.files[0], uid)[0][0] / data.get("sample_rate", 40000)
        if f0nsf.shape != (length // 160 + 1,):
            return f"2b-f0nsf has {f0nsf.shape} frames, the 16 kHz wav gives {length // 160 + 1}"
        if not np.array_equal(coarse, coarse_pitch(f0nsf)):
            return "2a_f0 is not RVC's coarse pitch of 2b-f0nsf"
        if not MIN_PIECE_SECONDS <= seconds <= MAX_PIECE_SECONDS:
            return f"a {seconds:.2f} s piece: RVC's bucket sampler drops it"
        return None

    problems = uid_problems(tree, finished_in_all(tree, records, ("pitch", "gt")), check_uid)
    if not tree.sink.has_dataset_file(FILELIST):
        return problems + [(FILELIST, "missing: RVC trains from it")]
    for line in tree.sink.read_text(FILELIST).splitlines():
        fields = line.split("|")
        if len(fields) != 5 or not all(tree.sink.located(p) for p in fields[:4]):
            problems.append((FILELIST, f"row {line[:80]!r} does not name four existing files and a speaker id"))
            break
    return problems
