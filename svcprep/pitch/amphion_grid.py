"""Amphion's own pitch, for datasets that must match an existing Amphion preprocessing bit for bit.

Amphion calls the tracker with its hop as time step (``utils/f0.py``) and fixes the length only when loading
(``align_length``: zero-pad the end or cut to the mel length). Its parselmouth frames start ~31 ms in, so frame
i lies ~2.4 mel frames after mel frame i; prefer the ``exact`` grid for new datasets.
"""

from __future__ import annotations

import numpy as np

from svcprep.audio.presets import MelPreset
from svcprep.pitch.settings import PitchSettings

VOICING_THRESHOLD = 0.6  # Amphion's parselmouth call


def amphion_pitch(wav: np.ndarray, preset: MelPreset, num_frames: int, settings: PitchSettings) -> np.ndarray:
    sample_rate, hop = preset.sample_rate, preset.hop_length
    if settings.method == "parselmouth":
        import parselmouth

        time_step_ms = hop / sample_rate * 1000
        f0 = parselmouth.Sound(wav, sample_rate).to_pitch_ac(
            time_step=time_step_ms / 1000, voicing_threshold=VOICING_THRESHOLD,
            pitch_floor=settings.f0_min, pitch_ceiling=settings.f0_max).selected_array["frequency"]
    else:
        import pyworld

        x = wav.astype("double")
        if settings.method == "dio":
            raw, times = pyworld.dio(x, sample_rate, f0_floor=settings.f0_min, f0_ceil=settings.f0_max,
                                     channels_in_octave=2, frame_period=1000 * hop / sample_rate)
            f0 = pyworld.stonemask(x, raw, times, sample_rate)
        else:
            f0, _ = pyworld.harvest(x, sample_rate, f0_floor=settings.f0_min, f0_ceil=settings.f0_max,
                                    frame_period=1000 * hop / sample_rate)
    if len(f0) < num_frames:
        return np.pad(f0, (0, num_frames - len(f0)), constant_values=0.0)
    return f0[:num_frames]
