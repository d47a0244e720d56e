"""F0 trackers, and F0 with voicing sampled at the mel frame centres.

Each tracker gives its native track (frame times in seconds, F0 in Hz, 0 = unvoiced). The mel grid asks for
F0 at the centre of mel frame i (``MelPreset.frame_centre_seconds``). Voicing there is that of the nearest
native frame; a voiced value is interpolated linearly in log-frequency between the two native frames around
the centre when both are voiced, else it is the nearest voiced frame's value. Before the first and after the
last native frame the edge frame holds. For ``dio`` the interpolated track is then refined by StoneMask at the
mel centres themselves.
"""

from __future__ import annotations

import numpy as np

from svcprep.errors import SvcprepError
from svcprep.pitch.settings import PitchSettings
from svcprep.presets import MelPreset

VOICING_THRESHOLD = 0.6  # Amphion's parselmouth call


def native_track(wav: np.ndarray, sample_rate: int, hop_length: int,
                 settings: PitchSettings) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds, F0 in Hz with 0 = unvoiced) at the tracker's own frames, ``hop_length`` apart."""
    x = np.ascontiguousarray(wav, dtype=np.float64)
    if settings.method == "parselmouth":
        import parselmouth

        window_seconds = 3.0 / settings.f0_min  # to_pitch_ac: 3 periods of the lowest pitch
        if len(x) / sample_rate < window_seconds:
            raise SvcprepError(f"{1000 * len(x) / sample_rate:.1f} ms of audio is shorter than parselmouth's "
                               f"analysis window ({1000 * window_seconds:.0f} ms for f0_min {settings.f0_min} Hz)")
        pitch = parselmouth.Sound(x, sample_rate).to_pitch_ac(
            time_step=hop_length / sample_rate, voicing_threshold=VOICING_THRESHOLD,
            pitch_floor=settings.f0_min, pitch_ceiling=settings.f0_max)
        return np.asarray(pitch.xs(), dtype=np.float64), pitch.selected_array["frequency"].astype(np.float64)
    import pyworld

    frame_period_ms = 1000.0 * hop_length / sample_rate
    if settings.method == "dio":
        f0, times = pyworld.dio(x, sample_rate, f0_floor=settings.f0_min, f0_ceil=settings.f0_max,
                                channels_in_octave=2, frame_period=frame_period_ms)
        return times, f0
    f0, times = pyworld.harvest(x, sample_rate, f0_floor=settings.f0_min, f0_ceil=settings.f0_max,
                                frame_period=frame_period_ms)
    return times, f0


def sample_track(times: np.ndarray, f0: np.ndarray, at_seconds: np.ndarray) -> np.ndarray:
    """F0 of a native track at ``at_seconds``: nearest-frame voicing, log-linear interpolation between voiced."""
    if len(times) == 0:
        return np.zeros(len(at_seconds))
    last = len(times) - 1
    k0 = np.clip(np.searchsorted(times, at_seconds, side="right") - 1, 0, last)
    k1 = np.minimum(k0 + 1, last)
    span = times[k1] - times[k0]
    frac = np.clip(np.divide(at_seconds - times[k0], span, out=np.zeros(len(at_seconds)), where=span > 0), 0, 1)
    nearest = np.where(frac < 0.5, k0, k1)
    voiced = f0 > 0
    log_f0 = np.log2(np.where(voiced, f0, 1.0))
    both = voiced[k0] & voiced[k1]
    nearest_voiced = np.where(voiced[nearest], nearest, np.where(voiced[k0], k0, k1))
    log_value = np.where(both, (1 - frac) * log_f0[k0] + frac * log_f0[k1], log_f0[nearest_voiced])
    return np.where(voiced[nearest], np.exp2(log_value), 0.0)


def pitch_on_mel_grid(wav: np.ndarray, preset: MelPreset, num_frames: int, settings: PitchSettings) -> np.ndarray:
    """``(num_frames,)`` F0 in Hz (0 = unvoiced) for mono ``wav`` at the preset's rate.

    ``exact`` grid: float32, frame i at mel frame i's centre. ``amphion`` grid: Amphion's values and dtype.
    """
    if settings.grid == "amphion":
        from svcprep.pitch.amphion_grid import amphion_pitch

        return amphion_pitch(wav, preset, num_frames, settings)
    centres = preset.frame_centre_seconds(num_frames)
    times, f0 = native_track(wav, preset.sample_rate, preset.hop_length, settings)
    on_grid = sample_track(times, f0, centres)
    if settings.method == "dio":
        import pyworld

        on_grid = pyworld.stonemask(np.ascontiguousarray(wav, dtype=np.float64), on_grid,
                                    np.ascontiguousarray(centres, dtype=np.float64), preset.sample_rate)
    return on_grid.astype(np.float32)


def voiced_flags(f0: np.ndarray) -> np.ndarray:
    """Amphion's ``uv`` file: True where voiced (``pitch != 0``)."""
    return np.asarray(f0) != 0
