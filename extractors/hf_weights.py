"""Reading raw tensors from a transformers model directory (safetensors, or pickled ``pytorch_model.bin``).

safetensors holds no code. A pickled ``.bin`` is read only through the strict restricted unpickler
(:mod:`svcprep.extractors.checkpoint_io`), and :func:`check_pickled_weights` runs that check before transformers
itself is handed the directory.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from svcprep.errors import CheckpointError


def weight_files(model_dir: Path) -> list[Path]:
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = model_dir / index_name
        if index.is_file():
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [model_dir / n for n in names]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return [model_dir / name]
    raise CheckpointError(f"{model_dir}: no model.safetensors or pytorch_model.bin")


def safetensors_keys(path: Path) -> list[str]:
    """Tensor names from a safetensors header (8-byte little-endian length, then JSON); no torch needed."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 100 * 2**20:
                raise ValueError(f"header of {size} bytes")
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    return [k for k in header if k != "__metadata__"]


def check_pickled_weights(model_dir: Path) -> None:
    """Refuse a model dir whose pickled weight files hold anything but tensors and plain containers."""
    from svcprep.extractors.checkpoint_io import load_state_dict_file

    for path in weight_files(model_dir):
        if path.suffix != ".safetensors":
            load_state_dict_file(path)


def read_tensors(model_dir: Path, keep=lambda key: True) -> dict:
    """Tensors whose key passes ``keep``."""
    tensors = {}
    for path in weight_files(model_dir):
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    if keep(key):
                        tensors[key] = f.get_tensor(key)
        else:
            from svcprep.extractors.checkpoint_io import load_state_dict_file

            tensors.update({k: v for k, v in load_state_dict_file(path).items() if keep(k)})
    return tensors


def weight_keys(model_dir: Path) -> list[str]:
    keys: list[str] = []
    for path in weight_files(model_dir):
        if path.suffix == ".safetensors":
            keys.extend(safetensors_keys(path))
        else:
            from svcprep.extractors.checkpoint_io import load_state_dict_file

            keys.extend(load_state_dict_file(path).keys())
    return keys
