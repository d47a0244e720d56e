"""Helpers the output kinds share: settings of a view, per-process caches of costly objects."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import numpy as np

from svcprep.audio.views import View
from svcprep.presets import MelPreset


def view_settings(view: View) -> dict[str, Any]:
    return {"name": view.name, **dataclasses.asdict(view)}


@lru_cache(maxsize=8)
def mel_extractor(preset: MelPreset):
    """One :class:`~svcprep.audio.mel.MelExtractor` per preset and process (filters and window built once)."""
    from svcprep.audio.mel import MelExtractor

    return MelExtractor(preset)


def to_save_dtype(array: np.ndarray, save_dtype: str) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(save_dtype, copy=False)
    return array
