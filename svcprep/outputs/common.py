"""Helpers the output kinds share: settings of a view, per-process caches of costly objects."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from svcprep.audio.views import View


def view_settings(view: View) -> dict[str, Any]:
    return {"name": view.name, **dataclasses.asdict(view)}


def to_save_dtype(array: np.ndarray, save_dtype: str) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(save_dtype, copy=False)
    return array
