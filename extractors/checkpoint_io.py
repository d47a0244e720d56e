"""Every pickle svcprep reads goes through here; nothing in a checkpoint runs code.

fairseq checkpoints pickle ``argparse.Namespace``, omegaconf configs and fairseq ``Dictionary`` objects, so
``torch.load(weights_only=True)`` refuses them and ``weights_only=False`` would execute whatever the pickle
names. Here tensors and plain containers load normally and every other class becomes an inert
:class:`Placeholder` that only records its constructor arguments and state (:func:`load_untrusted_checkpoint`),
or is refused (:func:`load_state_dict_file`, for plain state dicts). Nothing named by the file is imported or
called, except the allow-list below (tensor rebuilding and builtin containers).

Before torch reads a file, its format is checked: a zip checkpoint must hold only uncompressed entries whose
declared sizes fit in the file (torch never compresses; a compressed entry could expand to gigabytes) and
must not be a TorchScript archive (which ``torch.load`` would hand to ``torch.jit.load``); a legacy
(pre-zip) stream has every one of its pickles restricted, and the storages it declares must fit in the file;
tar archives (torch < 0.4) are refused.
"""

from __future__ import annotations

import pickle
import struct
import tarfile
import types
import zipfile
from pathlib import Path
from typing import Any

import torch

from svcprep.errors import CheckpointError
from svcprep.extractors.limits import MAX_PARAMETERS

_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    **{("builtins", t.__name__): t for t in (set, frozenset, list, dict, tuple, int, float, complex, bool, str,
                                              bytes, bytearray, object)},
}
_TORCH_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


def _numpy_attr(module: str, name: str):
    def get():
        import importlib

        return getattr(importlib.import_module(module), name)

    return get


# numpy's own pickles of arrays, dtypes and scalars (object ``.npy`` files of so-vits-svc and DDSP-SVC).
_NUMPY_DATA = {(m, n): _numpy_attr(m.replace("numpy.core", "numpy._core"), n)
               for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")}
_NUMPY_DATA.update({(m, n): _numpy_attr("numpy", n) for m in ("numpy",) for n in ("ndarray", "dtype")})


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


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # numpy arrays pickle their bytes as _codecs.encode(str, "latin1"); no other codec is needed.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _is_inert_data(obj: Any) -> bool:
    """Objects a checkpoint may give state to (``BUILD``): containers, tensors, arrays and placeholders.

    Never a class, function, module or any other object the process shares: setting attributes on those would
    let a file change how code runs (e.g. ``dump_patches`` on a function that torch's legacy loader then uses
    to write a file).
    """
    import numpy as np

    return isinstance(obj, Placeholder | dict | list | set | torch.Tensor | np.ndarray | np.dtype | np.generic)


class RestrictedUnpickler(pickle._Unpickler):
    """Allow-listed globals only; any other class becomes a :class:`Placeholder` (``strict``: is refused).

    The pure-Python unpickler, so that ``BUILD`` (``__setstate__`` / attribute updates) can be refused on
    anything but inert data (:func:`_is_inert_data`). It reads only the small structure pickles: tensor bytes
    are read by torch.
    """

    strict = False
    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _TORCH_DTYPES:
            return getattr(torch, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        if (module, name) in _NUMPY_DATA:
            return _NUMPY_DATA[(module, name)]()
        if self.strict:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a plain state dict holds only tensors")
        return _placeholder(module, name)

    def load_build(self) -> None:
        target = self.stack[-2]
        if not _is_inert_data(target):
            what = "a class" if isinstance(target, type) else f"a {type(target).__name__} object"
            raise pickle.UnpicklingError(f"refusing to set state on {what}: a checkpoint may only fill in data")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


class StrictUnpickler(RestrictedUnpickler):
    strict = True


def _pickle_module(unpickler: type[RestrictedUnpickler]) -> types.SimpleNamespace:
    """What ``torch.load(pickle_module=...)`` calls: ``Unpickler`` for the data, ``load`` for a legacy file's
    header pickles; both restricted."""

    def load(file, **kwargs: Any) -> Any:
        return unpickler(file, **kwargs).load()

    return types.SimpleNamespace(Unpickler=unpickler, load=load, __name__="svcprep_restricted_pickle")


_LENIENT, _STRICT = _pickle_module(RestrictedUnpickler), _pickle_module(StrictUnpickler)
_READ_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError,
                IndexError, KeyError, MemoryError, OverflowError, zipfile.BadZipFile, struct.error)


def check_archive(path: Path) -> None:
    """Refuse what ``torch.load`` must not be given: see the module docstring. Raises :class:`CheckpointError`."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        _check_zip(path, size)
    elif tarfile.is_tarfile(path):
        raise CheckpointError(f"{path}: a tar checkpoint (torch < 0.4); re-save it with a current torch")
    else:
        _check_legacy_stream(path, size)


def _check_zip(path: Path, size: int) -> None:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        raise CheckpointError(f"{path}: a TorchScript archive (compiled model code); svcprep reads only weights")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise CheckpointError(f"{path}: entry {info.filename} is compressed ({info.compress_size} bytes "
                                  f"declaring {info.file_size}); torch checkpoints never are")
    if sum(i.file_size for i in infos) > size:
        raise CheckpointError(f"{path}: entries declare more bytes than the file holds")


def _check_legacy_stream(path: Path, size: int) -> None:
    """Read a legacy stream's header and data pickles (restricted) and add up the storages they declare."""
    declared: dict[str, int] = {}

    class Scan(RestrictedUnpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module == "torch._utils" and name.startswith("_rebuild"):
                return lambda *args, **kwargs: None  # only the storages' declared sizes matter here
            return super().find_class(module, name)

        def persistent_load(self, pid: Any) -> Any:
            # torch decodes a bytes typename as ASCII (``_maybe_decode_ascii``): so does this check.
            typename = pid[0].decode("ascii", "replace") if isinstance(pid, tuple) and pid and isinstance(
                pid[0], bytes | bytearray) else (pid[0] if isinstance(pid, tuple) and pid else None)
            if typename == "module":
                raise pickle.UnpicklingError("a legacy 'module' record (torch would check and patch source files "
                                             "the checkpoint names); svcprep reads only tensors")
            if typename != "storage" or len(pid) < 5:
                raise pickle.UnpicklingError(f"unknown persistent record {typename!r}")
            storage_type, key, numel = pid[1], pid[2], pid[4]
            name = getattr(storage_type, "qualname", str(storage_type)).rsplit(".", 1)[-1]
            try:
                dtype = torch.serialization.StorageType(name).dtype if "Storage" in name else torch.uint8
            except (KeyError, AttributeError):
                dtype = torch.uint8
            declared[str(key)] = max(0, int(numel)) * torch._utils._element_size(dtype)
            return None

    with open(path, "rb") as f:
        try:
            for _ in range(4):  # magic number, protocol version, sys info, data
                Scan(f, encoding="utf-8").load()
        except pickle.UnpicklingError as exc:
            raise CheckpointError(f"{path}: refused ({exc})") from exc
    if sum(declared.values()) > size:
        raise CheckpointError(f"{path}: storages declare {sum(declared.values())} bytes; the file has {size}")


def _torch_load(path: Path, pickle_module: types.SimpleNamespace) -> Any:
    try:
        check_archive(path)
        loaded = torch.load(path, map_location="cpu", pickle_module=pickle_module, weights_only=False)
    except CheckpointError:
        raise
    except _READ_ERRORS as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from exc
    check_tensor_sizes(loaded, path)
    return loaded


def _tensors(obj: Any, depth: int = 0):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth < 8 and isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value, depth + 1)
    elif depth < 8 and isinstance(obj, list | tuple):
        for value in obj:
            yield from _tensors(value, depth + 1)


def check_tensor_sizes(loaded: Any, path: Path) -> None:
    """Every tensor is held by the bytes of its storage (no 1-element storage viewed as 2048 channels), the tensors
    hold at most :data:`MAX_PARAMETERS` values, and at most twice the bytes the file's storages hold (weights tied
    once are fine; thousands of keys viewing one small storage are not): a model built from their shapes cannot
    be far larger than the file."""
    total_values, total_bytes, storages = 0, 0, {}
    for tensor in _tensors(loaded):
        needed = tensor.numel() * tensor.element_size()
        storage = tensor.untyped_storage()
        expanded = any(stride == 0 and size > 1 for stride, size in zip(tensor.stride(), tensor.shape, strict=True))
        if tensor.numel() > 1 and (expanded or needed > storage.nbytes()):
            raise CheckpointError(f"{path}: a tensor of shape {tuple(tensor.shape)} is a view of {storage.nbytes()} "
                                  "bytes (an expanded or strided storage): not a checkpoint's weights")
        total_values += tensor.numel()
        total_bytes += needed
        storages[storage.data_ptr()] = storage.nbytes()
    if total_values > MAX_PARAMETERS:
        raise CheckpointError(f"{path}: {total_values:.3g} values, more than any model svcprep runs "
                              f"({MAX_PARAMETERS:.0e})")
    if total_bytes > 2 * sum(storages.values()):
        raise CheckpointError(f"{path}: its tensors span {total_bytes} bytes but the file holds "
                              f"{sum(storages.values())}: many keys view the same storage; not a checkpoint's weights")


def load_untrusted_checkpoint(path: Path) -> Any:
    """A checkpoint on the CPU; classes outside the allow-list come back as inert placeholders (fairseq)."""
    return _torch_load(path, _LENIENT)


def load_state_dict_file(path: Path) -> Any:
    """A plain state dict on the CPU (Meta ``.th``, ``pytorch_model.bin``); any other class is refused."""
    return _torch_load(path, _STRICT)


MAX_CONFIG_NODES = 200_000  # a real fairseq config has a few thousand


def to_plain(obj: Any) -> Any:
    """Placeholders of ``argparse.Namespace`` and omegaconf nodes to plain dicts/lists/values.

    A config tree that references its own parts many times (a "billion laughs" of shared lists) is refused once
    it expands past :data:`MAX_CONFIG_NODES` nodes, instead of being expanded without bound.
    """
    budget = [MAX_CONFIG_NODES]

    def plain(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise CheckpointError(f"the checkpoint's config expands past {MAX_CONFIG_NODES} nodes; refusing it")
        if depth > 50:
            return None
        if isinstance(value, Placeholder):
            state = value.state
            if isinstance(state, dict) and "_content" in state:  # omegaconf DictConfig / ListConfig
                return plain(state["_content"], depth + 1)
            if isinstance(state, dict) and "_val" in state:  # omegaconf value node
                return plain(state["_val"], depth + 1)
            if isinstance(state, dict):  # argparse.Namespace and plain objects
                return {k: plain(v, depth + 1) for k, v in state.items()}
            if value.args:  # enums and other reduce(cls, (value,)) objects
                return plain(value.args[0], depth + 1)
            return None
        if isinstance(value, dict):
            return {k: plain(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v, depth + 1) for v in value]
        return value

    return plain(obj, 0)
