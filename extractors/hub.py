"""Where a model comes from: a local dir or file, or a hub id resolved through the local cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from svcprep.errors import ModelNotAvailableError
from svcprep.fileio import atomic_write_text, file_sha256


def looks_like_path(model: str | Path) -> bool:
    text = str(model)
    return isinstance(model, Path) or text.startswith((".", "/", "~")) or os.path.exists(text) or text.endswith(
        (".pt", ".th", ".bin", ".safetensors")
    )


def resolve_model(model: str | Path, extractor: str) -> Path:
    """A local path for ``model``: an existing path as is, else a hub id from the cache (or the hub when online).

    Raises :class:`ModelNotAvailableError` naming the option that takes a local path when neither works.
    """
    if looks_like_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise ModelNotAvailableError(
                f"{extractor}: model path {path} does not exist; check --model {extractor}=PATH")
        return path
    from huggingface_hub import snapshot_download

    hint = (f"pass a local copy with --model {extractor}=PATH (Python: load_extractor({extractor!r}, model=PATH)), "
            "or download it once on a machine that is online")
    try:
        return Path(snapshot_download(str(model), local_files_only=True))
    except Exception as cached_exc:  # noqa: BLE001 - any miss falls through to the online attempt
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
            raise ModelNotAvailableError(
                f"{extractor}: {model!r} is not in the local model cache and HF_HUB_OFFLINE is set; {hint}"
            ) from cached_exc
    try:
        return Path(snapshot_download(str(model)))
    except Exception as exc:  # noqa: BLE001 - network, auth and missing-repo errors all mean the same here
        raise ModelNotAvailableError(
            f"{extractor}: cannot get {model!r} ({type(exc).__name__}: {exc}); {hint}"
        ) from exc


def model_fingerprint(path: Path) -> str:
    """sha256 of a checkpoint file, or of a model dir's weight and config files (names and contents)."""

    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        if item.is_file() and item.suffix in (".json", ".safetensors", ".bin", ".pt", ".th", ".py"):
            digest.update(item.relative_to(path).as_posix().encode())
            digest.update(file_sha256(item).encode())
    return digest.hexdigest()


def user_cache_dir() -> Path:
    """``$SVCPREP_CACHE``, else ``$XDG_CACHE_HOME/svcprep``, else ``~/.cache/svcprep``."""
    import os

    if os.environ.get("SVCPREP_CACHE"):
        return Path(os.environ["SVCPREP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "svcprep"


def cached_fingerprint(path: Path, cache_dir: Path | None = None) -> str:
    """:func:`model_fingerprint`, remembered in ``fingerprints.json`` (the user cache dir, else ``cache_dir``)
    by path, sizes and mtimes, so that gigabytes of weights are hashed once per machine, not on every run."""
    for directory in (user_cache_dir(), cache_dir):
        if directory is not None:
            try:
                return _cached_fingerprint(path, directory)
            except OSError:
                continue  # not writable: the next place, or no cache
    return model_fingerprint(path)


def _cached_fingerprint(path: Path, cache_dir: Path) -> str:
    import json


    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stamp = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()
    cache_path = cache_dir / "fingerprints.json"
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.is_file() else {}
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = model_fingerprint(path)
        atomic_write_text(cache_path, json.dumps(cache, indent=1) + "\n")
    return cache[key]
