"""so-vits-svc's file names (per-utterance suffixes, file lists, config fragments) and the ``verify`` checks of its
tree: what its loader would trip on, checked file by file.

Every uid finished in every output: ``f0.npy`` is a ``(2, T)`` object array with ``T = L // hop`` for the wav's
``L`` samples, no zero in the filled F0 and ``uv`` in {0, 1}; ``vol`` has ``T`` rows; ``spec.pt`` is
``(n_fft/2 + 1, T)``; ``soft.pt`` is ``(1, ssl_dim, T50)``. The file lists name existing wavs (each with its
companions), and every speaker folder is in the fragment's ``spk``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import numpy as np

from svcprep.ids import EntryId
from svcprep.recipes.base import finished_in_all, uid_problems

SUFFIXES = {"wav": "", "soft": ".wav.soft", "f0": ".wav.f0", "vol": ".wav.vol", "spec": ".spec",
            "mel": ".wav.mel", "aug_mel": ".wav.aug_mel", "aug_vol": ".wav.aug_vol"}
TRAIN_LIST, VAL_LIST, FRAGMENT, DIFFUSION_FRAGMENT = ("filelists/train.txt", "filelists/val.txt",
                                                      "svcprep_sovits.json", "svcprep_sovits_diffusion.json")

CORE = ("wav", "f0", "soft", "vol", "spec")  # outputs every listed wav has


def check_tree(tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
    if not all(name in records for name in CORE):
        return [("so-vits-svc", "a core output (wav, f0, soft, vol, spec) has no record")]
    hop = records["f0"].grid.hop_length if records["f0"].grid else 512
    fragment = tree.sink.read_dataset_file(FRAGMENT, "json") if tree.sink.has_dataset_file(FRAGMENT) else {}
    width = (fragment.get("model") or {}).get("ssl_dim")
    complete = finished_in_all(tree, records, CORE)
    problems = uid_problems(tree, complete, lambda uid: _check_uid(tree, records, uid, hop, width))
    listed_speakers = set()
    for listing in (TRAIN_LIST, VAL_LIST):
        if not tree.sink.has_dataset_file(listing):
            problems.append((listing, "missing: so-vits-svc trains from it"))
            continue
        for line in tree.sink.read_text(listing).splitlines():
            if not tree.sink.located(line):
                problems.append((listing, f"names {line}, which does not exist"))
                break
            companions = [f"{line}.soft.pt", f"{line}.f0.npy", f"{line[: -len('.wav')]}.spec.pt"]
            if not all(tree.sink.located(c) for c in companions):
                problems.append((listing, f"{line} lacks one of its .soft.pt / .f0.npy / .spec.pt files"))
                break
            listed_speakers.add(PurePosixPath(line).parent.name)
    unknown = listed_speakers - set(fragment.get("spk", {}))
    if unknown:
        problems.append((FRAGMENT, f"speakers {sorted(unknown)} are not in spk"))
    return problems


def _check_uid(tree, records: dict, uid: EntryId, hop: int, width: int | None) -> str | None:
    length = tree.sink.header(records["wav"].files[0], uid)[0][0]
    frames = length // hop
    f0 = tree.sink.read(records["f0"].files[0], uid)
    if f0.dtype != object or f0.shape != (2, frames):
        return f"f0.npy is {f0.dtype} {f0.shape}, expected an object array (2, {frames})"
    values, uv = np.array(f0[0], dtype=float), np.array(f0[1], dtype=float)
    if not np.isfinite(values).all() or (values <= 0).any():
        return "f0.npy holds a zero or non-finite F0 (unvoiced frames must be filled)"
    if not np.isin(uv, (0.0, 1.0)).all():
        return "f0.npy's uv is not 0/1"
    vol = tree.sink.read(records["vol"].files[0], uid)
    if vol.shape != (frames,):
        return f"vol.npy is {vol.shape}, expected ({frames},)"
    spec = tree.sink.read(records["spec"].files[0], uid)
    if spec.ndim != 2 or spec.shape[1] != frames:
        return f"spec.pt is {spec.shape}, expected (bins, {frames})"
    soft = tree.sink.read(records["soft"].files[0], uid)
    if soft.ndim != 3 or soft.shape[0] != 1 or (width and soft.shape[1] != width):
        return f"soft.pt is {soft.shape}, expected (1, {width}, T)"
    return None
