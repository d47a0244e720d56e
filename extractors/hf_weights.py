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

# transformers' own order (``_get_resolved_checkpoint_files``): the first that exists is what it loads, so it is
# also what svcprep checks, reads and fingerprints, and ``from_pretrained`` is told which format it is.
WEIGHT_SOURCES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                  "pytorch_model.bin.index.json")


def weight_source(model_dir: Path) -> str:
    for name in WEIGHT_SOURCES:
        if (model_dir / name).is_file():
            return name
    raise CheckpointError(f"{model_dir}: no model.safetensors or pytorch_model.bin")


def uses_safetensors(model_dir: Path) -> bool:
    return weight_source(model_dir).startswith("model.safetensors")


def weight_files(model_dir: Path) -> list[Path]:
    """The files transformers would load from ``model_dir``, in its order of preference."""
    source = weight_source(model_dir)
    if not source.endswith(".index.json"):
        return [model_dir / source]
    try:
        weight_map = json.loads((model_dir / source).read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{model_dir / source}: not a weight index ({exc})") from exc
    files = []
    for name in names:
        path = (model_dir / str(name)).resolve()
        if path.parent != model_dir.resolve() or not path.is_file():
            raise CheckpointError(f"{model_dir / source}: names {name!r}, which is not a file of {model_dir}")
        files.append(path)
    return files


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
    """Refuse a model dir whose pickled weight files hold anything but tensors and plain containers, or whose
    safetensors files have no readable header (before transformers is handed the dir)."""
    from svcprep.extractors.checkpoint_io import load_state_dict_file  # lazy: torch stays off start-up

    for path in weight_files(model_dir):
        if path.suffix != ".safetensors":
            load_state_dict_file(path)
        else:
            safetensors_keys(path)


def read_tensors(model_dir: Path, keep=lambda key: True) -> dict:
    """Tensors whose key passes ``keep``."""
    tensors = {}
    for path in weight_files(model_dir):
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(path), framework="pt") as f:
                    for key in f.keys():
                        if keep(key):
                            tensors[key] = f.get_tensor(key)
            except (SafetensorError, OSError, ValueError) as exc:
                raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
        else:
            from svcprep.extractors.checkpoint_io import load_state_dict_file  # lazy: torch stays off start-up

            tensors.update({k: v for k, v in load_state_dict_file(path).items() if keep(k)})
    return tensors


def weight_keys(model_dir: Path) -> list[str]:
    keys: list[str] = []
    for path in weight_files(model_dir):
        if path.suffix == ".safetensors":
            keys.extend(safetensors_keys(path))
        else:
            from svcprep.extractors.checkpoint_io import load_state_dict_file  # lazy: torch stays off start-up

            keys.extend(load_state_dict_file(path).keys())
    return keys
