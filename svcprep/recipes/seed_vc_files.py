"""Seed-VC's facts: its fine-tuning presets (carried in ``configs/seed-vc-presets.yaml``), the clip rule its
``FT_Dataset`` applies, and the checks of a clip folder.

Its fine-tuning walks ``--dataset-dir`` for every file ending in one of :data:`AUDIO_SUFFIXES` and, for a clip
shorter than ``sr·1`` or longer than ``sr·30`` samples (or one that fails to load), prints a line and trains on a
random other clip instead: every audio file under the folder is a training item, and each must fit.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from svcprep.errors import ConfigError

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus")  # what FT_Dataset walks for
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0  # its duration_setting, against len(samples) at the preset's rate
DEFAULT_PRESET = "svc-44k"


def presets() -> dict[str, dict[str, Any]]:
    """svcprep name -> {"file": Seed-VC's file name, "config": its values}."""
    text = resources.files("svcprep.configs").joinpath("seed-vc-presets.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def preset(name: str) -> dict[str, Any]:
    known = presets()
    if name not in known:
        raise ConfigError(f"must be one of {', '.join(known)} (Seed-VC's fine-tuning presets), got {name!r}",
                          "preset")
    return known[name]


def sample_rate_of(name: str) -> int:
    return int(preset(name)["config"]["preprocess_params"]["sr"])


def loadable_config(name: str) -> dict[str, Any]:
    """The preset as its fine-tuning loads it: ``spect_params`` in both spellings (its dataset reads ``win_size``,
    ``hop_size`` and ``num_mels`` as the defaults of ``.get``, which Python evaluates even when the v1 spelling is
    there: a v1 preset alone raises ``KeyError: 'win_size'``)."""
    config = copy.deepcopy(preset(name)["config"])
    spect = config["preprocess_params"]["spect_params"]
    for v1, v2 in (("win_length", "win_size"), ("hop_length", "hop_size"), ("n_mels", "num_mels")):
        spect[v2] = spect[v1]
    return config


def audio_files(root: Path) -> list[Path]:
    """Every file under ``root`` Seed-VC's fine-tuning would take as a training item (bookkeeping aside)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(AUDIO_SUFFIXES)
                  and ".svcprep" not in p.relative_to(root).parts)


def check_clips(root: Path, owned: set[Path], sample_rate: int) -> list[tuple[str, str]]:
    """``(where, problem)``: audio no entry owns (Seed-VC would train on it), and clips its loader would swap for a
    random other one (outside 1-30 s at the preset's rate) or resample (another rate, or not mono)."""
    import soundfile as sf

    problems = []
    for path in audio_files(root):
        where = str(path.relative_to(root))
        if path not in owned:
            problems.append((where, "audio no clip of the corpus owns: Seed-VC trains on every audio file under "
                                    "the folder; remove it"))
            continue
        try:
            info = sf.info(str(path))
        except RuntimeError as exc:
            problems.append((where, f"unreadable ({str(exc)[:80]}): Seed-VC would train on a random other clip"))
            continue
        if info.samplerate != sample_rate or info.channels != 1:
            problems.append((where, f"{info.samplerate} Hz, {info.channels} channel(s): the preset trains on mono "
                                    f"at {sample_rate} Hz"))
        elif not MIN_SECONDS * sample_rate <= info.frames <= MAX_SECONDS * sample_rate:
            problems.append((where, f"{info.frames / sample_rate:.2f} s: Seed-VC swaps clips outside "
                                    f"{MIN_SECONDS:g}-{MAX_SECONDS:g} s for a random other one"))
    return problems
