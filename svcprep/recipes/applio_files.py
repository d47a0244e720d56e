"""Applio's dataset-level files: ``filelist.txt`` (two mute rows per speaker), ``model_info.json`` (what its training
reads the speaker count and embedder from), ``config.json`` (its training config for the model rate, which it
reads from the model dir), and the tree checks of ``verify``."""

from __future__ import annotations

import json
from typing import Any

from svcprep.ids import EntryId
from svcprep.recipes.rvc_files import MUTE_ID, check_tree

FILELIST, MODEL_INFO, CONFIG = "filelist.txt", "model_info.json", "config.json"
EMBEDDER = "contentvec"
MUTE_ROWS_PER_SPEAKER = 2

# Applio's training configs (rvc/configs/<rate>.json): what differs between the rates ...
_BY_RATE = {
    32000: {"segment_size": 12800, "filter_length": 1024, "hop_length": 320, "n_mel_channels": 80,
            "upsample_rates": [10, 8, 2, 2], "upsample_kernel_sizes": [20, 16, 4, 4]},
    40000: {"segment_size": 12800, "filter_length": 2048, "hop_length": 400, "n_mel_channels": 125,
            "upsample_rates": [10, 10, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4]},
    48000: {"segment_size": 17280, "filter_length": 2048, "hop_length": 480, "n_mel_channels": 128,
            "upsample_rates": [12, 10, 2, 2], "upsample_kernel_sizes": [24, 20, 4, 4]},
}
RATES = tuple(_BY_RATE)


def training_config(sample_rate: int) -> dict[str, Any]:
    """... and the whole config for one rate."""
    rate = _BY_RATE[sample_rate]
    return {
        "train": {"log_interval": 200, "seed": 1234, "learning_rate": 1e-4, "betas": [0.8, 0.99], "eps": 1e-9,
                  "lr_decay": 0.999875, "segment_size": rate["segment_size"], "c_mel": 45, "c_kl": 1.0},
        "data": {"max_wav_value": 32768.0, "sample_rate": sample_rate, "filter_length": rate["filter_length"],
                 "hop_length": rate["hop_length"], "win_length": rate["filter_length"],
                 "n_mel_channels": rate["n_mel_channels"], "mel_fmin": 0.0, "mel_fmax": None},
        "model": {"inter_channels": 192, "hidden_channels": 192, "filter_channels": 768, "text_enc_hidden_dim": 768,
                  "n_heads": 2, "n_layers": 6, "kernel_size": 3, "p_dropout": 0, "resblock": "1",
                  "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5]] * 3,
                  "upsample_rates": rate["upsample_rates"], "upsample_initial_channel": 512,
                  "upsample_kernel_sizes": rate["upsample_kernel_sizes"], "use_spectral_norm": False,
                  "gin_channels": 256, "spk_embed_dim": 109},
    }


def hms(seconds: float) -> str:
    """``HH:MM:SS``, whole seconds cut off (how Applio shows the dataset's duration)."""
    whole = int(seconds)
    return f"{whole // 3600:02}:{whole % 3600 // 60:02}:{whole % 60:02}"


def model_info(total_seconds: float, num_speakers: int) -> dict[str, Any]:
    return {"total_dataset_duration": hms(total_seconds), "total_seconds": total_seconds,
            "embedder_model": EMBEDDER, "speakers_id": num_speakers}


def write_filelist(tree, ctx, outputs: list, speaker_ids: dict[str, int]) -> tuple[int, list[int]]:
    """``wav|feat|f0|f0nsf|sid`` per finished piece (absolute paths: any working dir reads them), then two mute rows
    for each speaker that has a piece; returns (pieces, speakers)."""
    files = {f.name: f for output in outputs for f in output.files}
    complete = sorted(ctx.done_uids(outputs))

    def row(id: EntryId, speaker_id: int) -> str:
        return "|".join(tree.sink.location(files[name], id) for name in ("gt", "feature", "f0", "f0nsf")) \
            + f"|{speaker_id}"

    rows, speakers = [], []
    for uid in complete:
        speaker = speaker_ids[ctx.entries[uid].singer]
        rows.append(row(ctx.entries[uid].id, speaker))
        if speaker not in speakers:
            speakers.append(speaker)
    if str(MUTE_ID) in tree.done_uids(outputs):
        rows += [row(MUTE_ID, speaker) for speaker in speakers * MUTE_ROWS_PER_SPEAKER]
    tree.write_text(FILELIST, "\n".join(rows) + "\n")
    return len(complete), speakers


def check_applio_tree(tree, records: dict, data: dict[str, Any]) -> list[tuple[str, str]]:
    problems = check_tree(tree, records, data)
    for name in (MODEL_INFO, CONFIG):
        if not tree.sink.has_dataset_file(name):
            problems.append((name, "missing: Applio's training reads it from the model dir"))
    if tree.sink.has_dataset_file(CONFIG):
        config = json.loads(tree.sink.read_text(CONFIG))
        if config.get("data", {}).get("sample_rate") != data.get("sample_rate"):
            problems.append((CONFIG, f"data.sample_rate is not the pieces' rate {data.get('sample_rate')}"))
    return problems
