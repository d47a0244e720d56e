"""CPU F0 trackers (parselmouth, dio, harvest), and any track sampled at the frame times of an output grid.

Each tracker gives its native track (frame times in seconds, F0 in Hz, 0 = unvoiced). An output asks for F0
at its own frame times (the mel frame centres for Amphion, ``(i + ½)·hop`` for so-vits-svc, ``i·hop`` for
DDSP-SVC). Voicing there is that of the nearest native frame; a voiced value is interpolated linearly in
log-frequency between the two native frames around the time when both are voiced, else it is the nearest
voiced frame's value. Before the first and after the last native frame the edge frame holds. For ``dio`` the
interpolated track is then refined by StoneMask at the output times themselves.
"""

from __future__ import annotations

import numpy as np

from svcprep.audio.presets import MelPreset
from svcprep.errors import SvcprepError
from svcprep.pitch.amphion_grid import VOICING_THRESHOLD, amphion_pitch
from svcprep.pitch.settings import PitchSettings


def native_track(wav: np.ndarray, sample_rate: int, hop_length: int, settings: PitchSettings,
                 offset_samples: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds, F0 in Hz with 0 = unvoiced) at the tracker's own frames, ``hop_length`` apart; ``wav``
    starts ``offset_samples`` into the clip the times are of (parselmouth only)."""
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
        f0 = pitch.selected_array["frequency"].astype(np.float64)
        return praat_frame_times(len(x), sample_rate, hop_length, len(f0), offset_samples), f0
    if offset_samples:
        raise SvcprepError(f"{settings.method} tracks a clip whole")
    import pyworld

    frame_period_ms = 1000.0 * hop_length / sample_rate
    if settings.method == "dio":
        f0, times = pyworld.dio(x, sample_rate, f0_floor=settings.f0_min, f0_ceil=settings.f0_max,
                                channels_in_octave=2, frame_period=frame_period_ms)
        return times, f0
    if settings.method == "harvest":
        f0, times = pyworld.harvest(x, sample_rate, f0_floor=settings.f0_min, f0_ceil=settings.f0_max,
                                    frame_period=frame_period_ms)
        return times, f0
    raise SvcprepError(f"{settings.method} runs on the model device, not in the decode stage")


def praat_frame_times(num_samples: int, sample_rate: int, hop_length: int, num_frames: int,
                      offset_samples: int = 0) -> np.ndarray:
    """Praat's frame times, centred in the sound (``t_k = (N - (n - 1)·hop + 2k·hop) / 2sr``), each correctly
    rounded from its exact value: a clip tracked in windows gets the very floats the whole clip gets, so that a grid
    time halfway between two frames (mel centres are) is decided the same way in both."""
    numerator = (2 * offset_samples + num_samples - (num_frames - 1) * hop_length
                 + 2 * hop_length * np.arange(num_frames, dtype=np.int64))
    return numerator / (2.0 * sample_rate)


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


def track_on_grid(wav: np.ndarray, sample_rate: int, hop_length: int, times: np.ndarray,
                  settings: PitchSettings, offset_samples: int = 0) -> np.ndarray:
    """F0 in Hz (0 = unvoiced, float32) of a CPU tracker at ``times`` (seconds); the tracker runs at
    ``hop_length`` samples of ``sample_rate`` (the output grid's own hop); ``wav`` starts ``offset_samples`` into
    the clip ``times`` are of (parselmouth only)."""
    native_times, f0 = native_track(wav, sample_rate, hop_length, settings, offset_samples)
    on_grid = sample_track(native_times, f0, times)
    if settings.method == "dio":
        import pyworld

        on_grid = pyworld.stonemask(np.ascontiguousarray(wav, dtype=np.float64), on_grid,
                                    np.ascontiguousarray(times, dtype=np.float64), sample_rate)
    return on_grid.astype(np.float32)


def pitch_on_mel_grid(wav: np.ndarray, preset: MelPreset, num_frames: int, settings: PitchSettings) -> np.ndarray:
    """``(num_frames,)`` F0 in Hz (0 = unvoiced) for mono ``wav`` at the preset's rate.

    ``exact`` grid: float32, frame i at mel frame i's centre. ``amphion`` grid: Amphion's values and dtype.
    """
    if settings.grid == "amphion":
        return amphion_pitch(wav, preset, num_frames, settings)
    return track_on_grid(wav, preset.sample_rate, preset.hop_length, preset.frame_centre_seconds(num_frames),
                         settings)


def fill_unvoiced(f0: np.ndarray) -> np.ndarray:
    """Unvoiced frames (0) filled by linear interpolation over the frame index between voiced neighbours, the
    first/last voiced value held at the ends (so-vits-svc's and DDSP-SVC's rule). Needs a voiced frame."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = f0 > 0
    if not voiced.any():
        raise SvcprepError("no voiced frame: the whole clip is unvoiced (silence, noise or speech-free)")
    index = np.arange(len(f0))
    return np.interp(index, index[voiced], f0[voiced])
