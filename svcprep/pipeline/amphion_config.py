"""``svcprep_amphion.json``: the part of an Amphion SVC exp_config that makes its loaders read svcprep's files.

Same nesting as an exp_config, to deep-merge over the user's. Content features point at the native-rate dirs
(``<feature>_native``) with Amphion's stock frameshifts: Amphion's training and inference datasets then
re-align them themselves, to svcprep's ``area`` result (same box average), and features Amphion extracts at
inference time from a source clip go through the same settings. Every frameshift is checked to survive the
``int(frameshift × downsample × sample_rate)`` Amphion applies.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from svcprep.errors import ConfigError
from svcprep.pipeline.layout import ENERGYS, MEL_STATS, MELS, PITCHES, UVS, OutputLayout
from svcprep.pitch.settings import PitchSettings
from svcprep.presets import MelPreset

# Amphion's name for a content feature → (frameshift key, downsample key or None).
CONTENT_KEYS = {
    "whisper": ("whisper_frameshift", "whisper_downsample_rate"),
    "contentvec": ("contentvec_frameshift", None),
}


def _frameshift(name: str, native_hop: int, native_rate: int, preset: MelPreset) -> dict[str, Any]:
    """Frameshift values whose product with the mel sample rate is the native period in mel samples."""
    shift_key, downsample_key = CONTENT_KEYS[name]
    period = Fraction(native_hop, native_rate)
    if downsample_key is None:
        values = {shift_key: float(period)}
        product = values[shift_key] * preset.sample_rate
    else:  # whisper: 10 ms mel frames, the encoder halves the rate
        values = {shift_key: float(period / 2), downsample_key: 2}
        product = values[shift_key] * values[downsample_key] * preset.sample_rate
    exact = period * preset.sample_rate
    if exact.denominator != 1 or int(product) != exact:
        raise ConfigError(f"{name}: a native period of {native_hop}/{native_rate} s is {exact} samples at "
                          f"{preset.sample_rate} Hz, which Amphion's int() cannot represent; use another preset")
    return values


def amphion_fragment(layout: OutputLayout, preset: MelPreset, pitch: PitchSettings,
                     content: dict[str, tuple[str, int, int, int]]) -> dict[str, Any]:
    """``content``: Amphion feature name → (native dir name, native hop, native sample rate, dim)."""
    if preset.mel_layout != "mels_by_frames":
        raise ConfigError(f"Amphion reads mels saved (n_mels, T); preset {preset.name} saves (T, n_mels)", "preset")
    preprocess: dict[str, Any] = {
        "processed_dir": str(layout.root.resolve().parent),
        "features_extraction_mode": "offline",
        "sample_rate": preset.sample_rate, "hop_size": preset.hop_length, "n_fft": preset.n_fft,
        "win_size": preset.win_length, "n_mel": preset.n_mels, "fmin": preset.fmin, "fmax": preset.fmax,
        "mel_dir": MELS, "pitch_dir": PITCHES, "uv_dir": UVS, "energy_dir": ENERGYS,
        "mel_min_max_stats_dir": MEL_STATS,
        "use_mel": True, "use_min_max_norm_mel": True, "mel_min_max_norm": True,
        "use_frame_pitch": True, "use_uv": True, "use_frame_energy": True, "use_spkid": True,
        "use_log_scale_pitch": False, "use_log_scale_energy": False, "use_interpolation_for_uv": False,
        "pitch_extractor": pitch.method, "f0_min": pitch.f0_min, "f0_max": pitch.f0_max,
        "energy_extract_mode": "from_mel",
        "spk2id": layout.singers.name, "utt2spk": layout.utt2singer.name,
    }
    condition_encoder: dict[str, Any] = {"use_f0": True, "use_uv": True, "use_energy": True, "use_spkid": True}
    for name in CONTENT_KEYS:
        used = name in content
        condition_encoder[f"use_{name}"] = used
        preprocess[f"use_{name}"] = used
        if used:
            native_dir, hop, rate, dim = content[name]
            preprocess[f"{name}_dir"] = native_dir
            preprocess[f"{name}_sample_rate"] = rate
            preprocess.update(_frameshift(name, hop, rate, preset))
            condition_encoder[f"{name}_dim"] = dim
    return {"preprocess": preprocess, "model": {"condition_encoder": condition_encoder}}
