"""How a value becomes a file and back: ``.npy`` (no pickle), object ``.npy`` (so-vits-svc's F0 pair, DDSP-SVC's
pitch-shift dict), a torch tensor ``.pt`` and WAV (16-bit PCM or 32-bit float).

Reading never runs code: object ``.npy`` payloads and ``.pt`` files go through svcprep's restricted unpickler.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from svcprep.errors import StorageError
from svcprep.fileio import read_npy_header, read_npy_header_from
from svcprep.outputs.records import Wav


class Codec:
    name = ""
    suffix = ""

    def encode(self, value: Any, f: IO[bytes]) -> None:
        raise NotImplementedError

    def decode(self, path: Path) -> Any:
        raise NotImplementedError

    def header(self, path: Path) -> tuple[tuple[int, ...], str]:
        """(shape, dtype name) read as cheaply as the format allows."""
        value = self.decode(path)
        return tuple(np.shape(value)), str(np.asarray(value).dtype)


class NpyCodec(Codec):
    name, suffix = "npy", ".npy"

    def encode(self, value: np.ndarray, f: IO[bytes]) -> None:
        np.save(f, np.ascontiguousarray(value), allow_pickle=False)

    def decode(self, path: Path) -> np.ndarray:
        return np.load(path, allow_pickle=False)

    def header(self, path: Path) -> tuple[tuple[int, ...], str]:
        shape, dtype = read_npy_header(path)
        return shape, str(dtype)


class NpyObjectCodec(Codec):
    """``np.save`` of ``np.asanyarray(value, dtype=object)`` (a dict: a 0-d object array), as so-vits-svc and
    DDSP-SVC save theirs: ``(f0, uv)`` of equal lengths becomes a ``(2, T)`` object array, ``(mel, keyshift)`` a
    ``(2,)`` one. Read back without running code."""

    name, suffix = "npy_object", ".npy"

    def encode(self, value: Any, f: IO[bytes]) -> None:
        if isinstance(value, dict):
            array = np.empty((), dtype=object)
            array[()] = value
        else:
            array = np.asanyarray(value, dtype=object)
        np.save(f, array, allow_pickle=True)

    def decode(self, path: Path) -> Any:
        from svcprep.extractors.checkpoint_io import StrictUnpickler  # lazy: torch stays off start-up

        with open(path, "rb") as f:
            shape, dtype = read_npy_header_from(f)
            if not dtype.hasobject:
                f.seek(0)
                return np.load(f, allow_pickle=False)
            try:
                array = StrictUnpickler(f).load()
            except Exception as exc:  # noqa: BLE001 - any malformed payload is the same refusal
                raise StorageError(f"{path}: unreadable object array ({type(exc).__name__}: {exc})") from exc
        if not isinstance(array, np.ndarray) or array.shape != shape:
            raise StorageError(f"{path}: object payload does not match its header {shape}")
        return array

    def header(self, path: Path) -> tuple[tuple[int, ...], str]:
        shape, dtype = read_npy_header(path)
        return shape, str(dtype)


class TorchTensorCodec(Codec):
    """``torch.save`` of one tensor (what so-vits-svc's loader ``torch.load``s); read through the strict unpickler."""

    name, suffix = "torch", ".pt"

    def encode(self, value: np.ndarray, f: IO[bytes]) -> None:
        import torch

        buffer = io.BytesIO()
        torch.save(torch.from_numpy(np.ascontiguousarray(value)), buffer)
        f.write(buffer.getvalue())

    def decode(self, path: Path) -> np.ndarray:
        import torch

        from svcprep.extractors.checkpoint_io import load_state_dict_file  # lazy: torch stays off start-up

        tensor = load_state_dict_file(path)
        if not isinstance(tensor, torch.Tensor):
            raise StorageError(f"{path}: holds a {type(tensor).__name__}, not a tensor")
        return tensor.numpy()


WAV_FORMATS = {"PCM_16": (1, "<i2"), "FLOAT": (3, "<f4")}  # subtype -> (format tag, sample dtype)


def wav_header(data_bytes: int, sample_rate: int, channels: int, subtype: str) -> bytes:
    """The 44 bytes before a canonical RIFF/WAVE file's samples: the ``fmt`` and ``data`` chunks only."""
    import struct

    tag, dtype = WAV_FORMATS[subtype]
    width = np.dtype(dtype).itemsize
    if data_bytes > 0xFFFFFFFF - 36:
        raise StorageError(f"{data_bytes} bytes of audio do not fit a WAV file (4 GiB)")
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, tag, channels, sample_rate, sample_rate * channels * width,
                                    channels * width, 8 * width)
            + b"data" + struct.pack("<I", data_bytes))


def write_plain_wav(f: IO[bytes], samples: np.ndarray, sample_rate: int, subtype: str) -> None:
    """A canonical RIFF/WAVE file: the ``fmt`` and ``data`` chunks only, so equal samples give equal bytes
    (libsndfile adds a time-stamped PEAK chunk to float files)."""
    _, dtype = WAV_FORMATS[subtype]
    if np.dtype(dtype).kind != np.asarray(samples).dtype.kind:
        raise StorageError(f"{subtype} WAV needs {np.dtype(dtype).name} samples, got {np.asarray(samples).dtype}")
    data = np.ascontiguousarray(samples, dtype=dtype)
    f.write(wav_header(data.nbytes, sample_rate, 1 if data.ndim == 1 else data.shape[1], subtype))
    f.write(data.tobytes())


class StreamingWav:
    """A float32 :func:`write_plain_wav` file written block by block (``(samples, channels)``); the header's sizes
    are filled in by :meth:`close`."""

    def __init__(self, f: IO[bytes], sample_rate: int, channels: int) -> None:
        self.f, self.sample_rate, self.channels, self.data_bytes = f, sample_rate, channels, 0
        f.write(wav_header(0, sample_rate, channels, "FLOAT"))

    def write(self, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block, dtype="<f4")
        if data.ndim != 2 or data.shape[1] != self.channels:
            raise ValueError(f"expected (samples, {self.channels}), got {data.shape}")
        wav_header(self.data_bytes + data.nbytes, self.sample_rate, self.channels, "FLOAT")  # the 4 GiB check
        self.f.write(data.tobytes())
        self.data_bytes += data.nbytes

    def close(self) -> None:
        self.f.seek(0)
        self.f.write(wav_header(self.data_bytes, self.sample_rate, self.channels, "FLOAT"))
        self.f.seek(0, 2)


class WavCodec(Codec):
    suffix = ".wav"

    def __init__(self, name: str, subtype: str) -> None:
        self.name, self.subtype = name, subtype

    def encode(self, value: Wav, f: IO[bytes]) -> None:
        write_plain_wav(f, value.samples, value.sample_rate, self.subtype)

    def decode(self, path: Path) -> Wav:
        import soundfile as sf

        with _readable_wav(path):
            samples, rate = sf.read(str(path), dtype="int16" if self.subtype == "PCM_16" else "float32")
        return Wav(samples, rate)

    def header(self, path: Path) -> tuple[tuple[int, ...], str]:
        import soundfile as sf

        with _readable_wav(path):
            info = sf.info(str(path))
        shape = (info.frames,) if info.channels == 1 else (info.frames, info.channels)
        return shape, info.subtype


@contextmanager
def _readable_wav(path: Path) -> Iterator[None]:
    """libsndfile's errors (a ``RuntimeError``) as what they mean: a missing file, or one that is not a WAV."""
    try:
        yield
    except RuntimeError as exc:
        if not Path(path).exists():
            raise FileNotFoundError(errno.ENOENT, "missing", str(path)) from None
        raise StorageError(f"{path}: not a readable WAV ({str(exc)[:120]})") from None


class TorchDictCodec(Codec):
    """``torch.save`` of a dict of tensors (numpy arrays and numpy/int scalars become tensors; int64 stays int64),
    what a trainer reads with ``torch.load(weights_only=True)``; read back through the strict unpickler as numpy."""

    name, suffix = "torch_dict", ".pt"

    def encode(self, value: dict[str, Any], f: IO[bytes]) -> None:
        import torch

        tensors = {key: torch.from_numpy(np.ascontiguousarray(item)) if isinstance(item, np.ndarray)
                   else torch.tensor(int(item) if isinstance(item, np.integer | int) else item)
                   for key, item in value.items()}
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        f.write(buffer.getvalue())

    def decode(self, path: Path) -> dict[str, np.ndarray]:
        import torch

        from svcprep.extractors.checkpoint_io import load_state_dict_file  # lazy: torch stays off start-up

        data = load_state_dict_file(path)
        if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
            raise StorageError(f"{path}: not a dict of tensors")
        return {str(key): tensor.numpy() for key, tensor in data.items()}

    def header(self, path: Path) -> tuple[tuple[int, ...], str]:
        return (), "dict"


class JsonCodec(Codec):
    name, suffix = "json", ".json"

    def encode(self, value: Any, f: IO[bytes]) -> None:
        import json

        f.write((json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    def decode(self, path: Path) -> Any:
        import json

        return json.loads(path.read_text(encoding="utf-8"))


CODECS: dict[str, Codec] = {c.name: c for c in (NpyCodec(), NpyObjectCodec(), TorchTensorCodec(),
                                                 WavCodec("wav_int16", "PCM_16"), WavCodec("wav_float32", "FLOAT"),
                                                 TorchDictCodec(), JsonCodec())}
