"""Shared fixtures: seeded synthetic audio and tiny random models saved in their real on-disk formats."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from svcprep.demo import tiny_models

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Checkpoint fingerprints are cached per user; the suite keeps its own (subprocesses inherit it).
os.environ.setdefault("SVCPREP_CACHE", tempfile.mkdtemp(prefix="svcprep-test-cache-"))
warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")


@pytest.fixture(scope="session", autouse=True)
def exact_float32_on_gpu():
    """Parity bounds are float32 bounds: TF32 matmuls/convs (on by default for cuDNN) would break them on GPU."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny_models")


@pytest.fixture(scope="session")
def tiny_models_by_name(tiny_dir) -> dict[str, tuple[Path, dict]]:
    """extractor name -> (model path, options) for every registered extractor with a feature model."""
    return {
        "whisper": (tiny_models.save_whisper(tiny_dir / "whisper"), {}),
        "contentvec": (tiny_models.save_fairseq_contentvec(tiny_dir / "contentvec.pt"), {"layer": 2}),
        "contentvec-768-l12": (tiny_models.save_contentvec_dir(tiny_dir / "contentvec_hf"), {"layer": 2}),
        "contentvec-256-l9": (tiny_dir / "contentvec.pt", {"layer": 1}),
        "hubert": (tiny_models.save_speech_model(tiny_dir / "hubert", "hubert"), {}),
        "wavlm": (tiny_models.save_speech_model(tiny_dir / "wavlm", "wavlm"), {}),
        "wav2vec2": (tiny_models.save_speech_model(tiny_dir / "wav2vec2", "wav2vec2"), {}),
        "mert": (tiny_models.save_mert(tiny_dir / "mert"), {"trust_remote_code": True}),
        "encodec_24khz": (tiny_models.save_encodec(tiny_dir / "encodec24"), {}),
        "encodec_32khz": (tiny_models.save_encodec(tiny_dir / "encodec24"), {"bandwidth": 3.0}),
        "encodec_48khz": (tiny_models.save_encodec(tiny_dir / "encodec48", stereo=True), {}),
    }


@pytest.fixture(scope="module")
def content_model(tmp_path_factory) -> Path:
    """A 768-d fairseq ContentVec of 2 layers, as the trainers' recipes read (they read layer 12: the tests set
    ``contentvec.layer=2``)."""
    return tiny_models.save_fairseq_contentvec(tmp_path_factory.mktemp("cv") / "cv768.pt", hidden_size=768,
                                               proj_dim=256)


def synthetic_audio(num_samples: int, seed: int, channels: int = 1) -> np.ndarray:
    """A gliding harmonic tone with noise, float32, peak < 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / 16000.0
    f0 = 180 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    wav = sum(np.sin(k * phase) / k for k in range(1, 5)) * 0.15 + 0.02 * rng.standard_normal(num_samples)
    wav = wav.astype(np.float32)
    if channels > 1:
        wav = np.stack([wav, np.roll(wav, 37)], axis=1)
    return wav


def amphion_config(corpus, out, **settings):
    """A one-recipe run of the Amphion layout: execution settings go to RunConfig, the rest to the recipe."""
    import dataclasses

    from svcprep.audio.presets import load_preset
    from svcprep.pipeline.config import RunConfig
    from svcprep.recipes.amphion import AmphionRecipe

    run_fields = {f.name for f in dataclasses.fields(RunConfig)}
    execution = {k: v for k, v in settings.items() if k in run_fields}
    recipe = {k: v for k, v in settings.items() if k not in run_fields}
    recipe.setdefault("preset", load_preset("amphion-svc-24k"))
    return RunConfig(corpus=corpus, out=out, recipes=(AmphionRecipe(**recipe),), **execution)


def done_uids(root: Path, output: str) -> set[str]:
    """uids an output root records as finished for ``output`` under its current settings (its bookkeeping)."""
    from svcprep.store.bookkeeping import Bookkeeping

    bookkeeping = Bookkeeping(root)
    record = bookkeeping.read_record(output)
    return set(bookkeeping.done_list(record, "read").load()) if record is not None else set()


def process_ids(field: str, value: int) -> list[int]:
    """pids whose ``/proc/<pid>/stat`` ``field`` (``"ppid"`` or ``"session"``) equals ``value``."""
    index = {"ppid": 1, "session": 3}[field]
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[index]) == value:
            found.append(int(stat.parent.name))
    return found
