"""Timing helpers for the benchmarks: best-of-N wall time, and a markdown results table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def best_seconds(func: Callable[[], object], repeats: int = 7, min_seconds: float = 0.0) -> float:
    """Best wall time of ``func`` over ``repeats`` runs (after one warm-up run)."""
    func()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return max(best, min_seconds)


def write_table(name: str, header: list[str], rows: list[list[str]], notes: list[str]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(lines + [""] + notes) + "\n"
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text)
    print(text)
    return path


WHISPER_BASE = {"d_model": 512, "encoder_layers": 6, "encoder_attention_heads": 8, "encoder_ffn_dim": 2048}
WHISPER_MEDIUM = {"d_model": 1024, "encoder_layers": 24, "encoder_attention_heads": 16, "encoder_ffn_dim": 4096}


def save_random_models(root: Path, hubert_config: dict, whisper_encoder: dict) -> dict[str, Path]:
    """A HuBERT and a Whisper of the given architectures with random weights, saved as transformers dirs (raw
    audio in, as the real base checkpoints take it); ``{"hubert": dir, "whisper": dir}``."""
    import torch
    from transformers import (
        HubertConfig,
        HubertModel,
        Wav2Vec2FeatureExtractor,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperModel,
    )

    torch.manual_seed(0)
    hubert, whisper = root / "hubert", root / "whisper"
    HubertModel(HubertConfig(**hubert_config)).save_pretrained(hubert)
    Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(hubert)
    WhisperModel(WhisperConfig(**whisper_encoder, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=128,
                               num_mel_bins=80)).save_pretrained(whisper)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(whisper)
    return {"hubert": hubert, "whisper": whisper}


def amphion_run_config(corpus: Path, out: Path, extractors: tuple = (), **settings):
    """A one-recipe run writing Amphion's layout with the 24 kHz preset: execution settings (device, dtype,
    batching, workers, profile) go to the run, the rest to the recipe."""
    import dataclasses

    from svcprep.audio.presets import load_preset
    from svcprep.pipeline.config import RunConfig
    from svcprep.recipes.amphion import AmphionRecipe

    run_fields = {f.name for f in dataclasses.fields(RunConfig)}
    execution = {k: v for k, v in settings.items() if k in run_fields}
    recipe = {k: v for k, v in settings.items() if k not in run_fields}
    recipe.setdefault("preset", load_preset("amphion-svc-24k"))
    return RunConfig(corpus=corpus, out=out, recipes=(AmphionRecipe(extractors=tuple(extractors), **recipe),),
                     **execution)
