"""Load foreign ``.pt`` checkpoints without running their code.

fairseq checkpoints pickle ``argparse.Namespace``, omegaconf configs and fairseq ``Dictionary`` objects, so
``torch.load(weights_only=True)`` refuses them and ``weights_only=False`` would execute whatever the pickle
names. Here tensors and plain containers load normally and every other class becomes an inert
:class:`Placeholder` that only records its constructor arguments and state. Nothing named by the file is
imported or called, except the allow-list below (tensor rebuilding and builtin containers).
"""

from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import Any

import torch

from svcprep.errors import CheckpointError

_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    **{("builtins", t.__name__): t for t in (set, frozenset, list, dict, tuple, int, float, complex, bool, str,
                                              bytes, bytearray, object)},
    ("_codecs", "encode"): __import__("codecs").encode,
}
_TORCH_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


class Placeholder:
    """An inert stand-in for a class the checkpoint names; it keeps arguments and state as data."""

    qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs, self.state, self.items = args, kwargs, None, []

    def __setstate__(self, state: Any) -> None:
        self.state = state

    # Containers subclassing list/dict are rebuilt through append/extend/__setitem__.
    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))

    def __repr__(self) -> str:
        return f"<placeholder {self.qualname}>"


_placeholder_types: dict[str, type] = {}


def _placeholder(module: str, name: str) -> type:
    qualname = f"{module}.{name}"
    if qualname not in _placeholder_types:
        _placeholder_types[qualname] = type(name, (Placeholder,), {"qualname": qualname, "__module__": "inert"})
    return _placeholder_types[qualname]


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    # copyreg._reconstructor without calling an untrusted base's __init__.
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        return cls()
    if base is object:
        return object.__new__(cls)
    return base.__new__(cls, state) if state is not None else base.__new__(cls)


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _TORCH_DTYPES:
            return getattr(torch, name)
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        return _placeholder(module, name)


_pickle_module = types.SimpleNamespace(Unpickler=RestrictedUnpickler, load=pickle.load, __name__="svcprep_safe_pickle")


def load_untrusted_checkpoint(path: Path) -> Any:
    """``torch.load`` a checkpoint on the CPU with the restricted unpickler."""
    try:
        return torch.load(path, map_location="cpu", pickle_module=_pickle_module, weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from exc


def to_plain(obj: Any, depth: int = 0) -> Any:
    """Placeholders of ``argparse.Namespace`` and omegaconf nodes to plain dicts/lists/values."""
    if depth > 50:
        return None
    if isinstance(obj, Placeholder):
        state = obj.state
        if isinstance(state, dict) and "_content" in state:  # omegaconf DictConfig / ListConfig
            return to_plain(state["_content"], depth + 1)
        if isinstance(state, dict) and "_val" in state:  # omegaconf value node
            return to_plain(state["_val"], depth + 1)
        if isinstance(state, dict):  # argparse.Namespace and plain objects
            return {k: to_plain(v, depth + 1) for k, v in state.items()}
        if obj.args:  # enums and other reduce(cls, (value,)) objects
            return to_plain(obj.args[0], depth + 1)
        return None
    if isinstance(obj, dict):
        return {k: to_plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v, depth + 1) for v in obj]
    return obj
