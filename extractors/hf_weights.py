"""Reading raw tensors from a transformers model directory (safetensors or ``pytorch_model.bin``)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

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


def read_tensors(model_dir: Path, keep=lambda key: True) -> dict[str, torch.Tensor]:
    """Tensors whose key passes ``keep``; ``.bin`` files load with ``weights_only=True``."""
    tensors: dict[str, torch.Tensor] = {}
    for path in weight_files(model_dir):
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    if keep(key):
                        tensors[key] = f.get_tensor(key)
        else:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any unpickling refusal is a checkpoint problem
                raise CheckpointError(f"{path}: cannot load with weights_only=True ({exc})") from exc
            tensors.update({k: v for k, v in state.items() if keep(k)})
    return tensors


def weight_keys(model_dir: Path) -> list[str]:
    keys: list[str] = []
    for path in weight_files(model_dir):
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                keys.extend(f.keys())
        else:
            keys.extend(torch.load(path, map_location="cpu", weights_only=True).keys())
    return keys
