"""A signature of every file a run leaves for a trainer (bookkeeping in ``.svcprep/`` left out), so that a later
version of svcprep can be held to the files an earlier one wrote.

Per file: its sha256 with the output root's absolute path replaced by ``<OUT>`` (text files name it), and for
arrays (``.npy``, ``.wav``, each tensor of a ``.pt``) the dtype, shape and float64 sums of the values and of
their magnitudes. Equal hashes mean byte-identical files; where a hash differs, :func:`compare` says whether the
arrays still agree in dtype, shape and values to the float32 rounding of a different CPU's kernels (the model
features are sums of products that another instruction set may round differently), and text files must then
still be equal once parsed, numbers to that rounding.

``python -m tests.tree_signature DEMO_OUT > tests/fixtures/demo_trees.json`` records one.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

TREES = ("processed", "trainers")  # what the demo writes for trainers (corpus, takes, models are its inputs)
BOOKKEEPING = ".svcprep"
# Another CPU's float32 kernels: a relative bound on a sum of many rounded terms (float32 epsilon × a margin).
RELATIVE_BOUND = 1e-4


def _array_facts(value: np.ndarray) -> dict[str, Any]:
    facts: dict[str, Any] = {"dtype": str(value.dtype), "shape": list(value.shape)}
    if value.dtype.kind in "fiub":
        as_float = value.astype(np.float64)
        facts["sum"] = float(as_float.sum())
        facts["abs_sum"] = float(np.abs(as_float).sum())
    return facts


def _arrays(path: Path, data: bytes) -> dict[str, dict[str, Any]] | None:
    if path.suffix == ".npy":
        # allow_pickle: the demo's own files in a temp dir (DDSP-SVC's pitch_aug_dict.npy is a pickled dict)
        value = np.load(io.BytesIO(data), allow_pickle=True)
        if value.dtype == object and value.shape == () and isinstance(value.item(), dict):
            return {str(k): _array_facts(np.asarray(v)) for k, v in sorted(value.item().items())}
        if value.dtype == object:  # so-vits-svc's (f0, uv) pair saved as one object array
            return {"": {**_array_facts(value.astype(np.float64)), "dtype": "object"}}
        return {"": _array_facts(value)}
    if path.suffix == ".wav":
        import soundfile as sf

        samples, _ = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
        return {"": _array_facts(samples)}
    if path.suffix == ".pt":
        import torch

        value = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        items = value.items() if isinstance(value, dict) else [("", value)]
        return {str(k): _array_facts(v.numpy()) if hasattr(v, "numpy") else {"value": v} for k, v in items}
    return None


def signature(out: Path) -> dict[str, dict[str, Any]]:
    """``relative path -> facts`` for every file of the demo's trainer trees under ``out``."""
    root_text = str(out.resolve()).encode()
    files: dict[str, dict[str, Any]] = {}
    for tree in TREES:
        for path in sorted((out / tree).rglob("*")):
            relative = path.relative_to(out)
            if not path.is_file() or BOOKKEEPING in relative.parts:
                continue
            data = path.read_bytes()
            arrays = _arrays(path, data)
            if arrays is None:
                data = data.replace(root_text, b"<OUT>")
            facts: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest()}
            if arrays is not None:
                facts["arrays"] = arrays
            else:
                facts["text"] = data.decode("utf-8")
            files[relative.as_posix()] = facts
    return files


def _parsed(name: str, text: str) -> Any:
    if name.endswith(".json"):
        return json.loads(text)
    if name.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return text


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(
            a, b, rel_tol=RELATIVE_BOUND, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _arrays_close(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    if a.keys() != b.keys():
        return f"tensors {sorted(a)} != {sorted(b)}"
    for key in a:
        x, y = a[key], b[key]
        for fact in ("dtype", "shape", "value"):
            if x.get(fact) != y.get(fact):
                return f"{key or 'array'} {fact}: {x.get(fact)} != {y.get(fact)}"
        if "sum" in x:
            scale = max(x["abs_sum"], 1e-30)
            if abs(x["sum"] - y["sum"]) > RELATIVE_BOUND * scale or \
                    abs(x["abs_sum"] - y["abs_sum"]) > RELATIVE_BOUND * scale:
                return f"{key or 'array'} values differ: sums {x['sum']!r} vs {y['sum']!r}"
    return None


def compare(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> tuple[list[str], int]:
    """(problems, number of byte-identical files)."""
    problems = [f"missing: {name}" for name in sorted(set(expected) - set(actual))]
    problems += [f"not written before: {name}" for name in sorted(set(actual) - set(expected))]
    identical = 0
    for name in sorted(set(expected) & set(actual)):
        want, got = expected[name], actual[name]
        if want["sha256"] == got["sha256"]:
            identical += 1
        elif "arrays" in want:
            problem = _arrays_close(want["arrays"], got.get("arrays", {}))
            if problem:
                problems.append(f"{name}: {problem}")
        elif not _close(_parsed(name, want["text"]), _parsed(name, got.get("text", ""))):
            problems.append(f"{name}: text differs")
    return problems, identical


if __name__ == "__main__":
    json.dump(signature(Path(sys.argv[1])), sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")
