"""Pitch on the exact mel grid vs Amphion's own path, on a sung line with known F0 (glide, ±100-cent vibrato,
silent gaps): median / p95 error in cents over voiced frames away from voicing changes, voicing agreement, and
speed in × real time (the CPU trackers are single-threaded). FCPE (torchfcpe's real weights) on the same line,
sampled at the mel frame centres as a run does; Amphion has no FCPE, so it has no Amphion row.

Target: every method's exact grid within 10 cents median (FCPE within 5). Exit code 1 when one is missed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.amphion_reference import amphion_align_length, amphion_pitch  # noqa: E402
from bench.common import write_table  # noqa: E402
from svcprep.audio.presets import load_preset  # noqa: E402
from svcprep.demo.synthetic import known_f0, known_pitch_clip, known_voicing  # noqa: E402
from svcprep.pitch.settings import CPU_METHODS, PitchSettings  # noqa: E402
from svcprep.pitch.tracking import pitch_on_mel_grid, sample_track  # noqa: E402

SECONDS = 20.0
GAPS = ((1.4, 1.7), (5.0, 5.4), (9.1, 9.3), (14.0, 14.6), (19.5, 20.0))
AWAY_SECONDS = 0.06
TARGET_CENTS = 10.0
TARGET_FCPE_CENTS = 5.0


def score(f0, centres):
    truth_voiced = known_voicing(centres, GAPS)
    changes = np.array([0.0, *[edge for gap in GAPS for edge in gap]])
    away = np.min(np.abs(centres[:, None] - changes[None]), axis=1) > AWAY_SECONDS
    both = truth_voiced & away & (f0 > 0)
    cents = 1200 * np.abs(np.log2(f0[both] / known_f0(centres[both])))
    return float(np.median(cents)), float(np.percentile(cents, 95)), float(np.mean((f0 > 0) == truth_voiced))


def timed(func):
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def main() -> int:
    preset = load_preset("amphion-svc-24k")
    wav = known_pitch_clip(preset.sample_rate, SECONDS, GAPS)
    num_frames = preset.num_frames(len(wav))
    centres = preset.frame_centre_seconds(num_frames)
    rows, failed = [], []
    for method in CPU_METHODS:
        pitch_on_mel_grid(wav[:24000], preset, 93, PitchSettings(method=method))  # imports, warm-up
        ours, t_ours = timed(lambda m=method: pitch_on_mel_grid(wav, preset, num_frames, PitchSettings(method=m)))
        theirs, t_theirs = timed(lambda m=method: amphion_align_length(
            amphion_pitch(wav, preset.sample_rate, preset.hop_length, 50, 1100, m), num_frames))
        for label, f0, seconds in (("svcprep exact grid", ours, t_ours), ("Amphion's path", theirs, t_theirs)):
            median, p95, voicing = score(np.asarray(f0, np.float64), centres)
            rows.append([method, label, f"{median:.1f}", f"{p95:.1f}", f"{voicing * 100:.1f}%",
                         f"{SECONDS / seconds:.0f}×"])
            if label.startswith("svcprep") and median > TARGET_CENTS:
                failed.append(method)
    from svcprep import load_pitch_tracker

    fcpe = load_pitch_tracker("fcpe", device="cpu")
    fcpe.native_track(wav[:24000], preset.sample_rate)  # warm-up
    (times, native), seconds = timed(lambda: fcpe.native_track(wav, preset.sample_rate))
    median, p95, voicing = score(sample_track(times, native, centres), centres)
    rows.append(["fcpe", "svcprep exact grid", f"{median:.1f}", f"{p95:.1f}", f"{voicing * 100:.1f}%",
                 f"{SECONDS / seconds:.0f}× (all cores)"])
    if median > TARGET_FCPE_CENTS:
        failed.append("fcpe")
    write_table("pitch", ["method", "path", "median error (cents)", "p95 (cents)", "voicing agreement",
                          "speed (× real time)"], rows,
                [f"{SECONDS:.0f} s sung line at 24 kHz: 220→330 Hz glide, 5.5 Hz ±100-cent vibrato, {len(GAPS)} "
                 f"silent gaps; errors over voiced frames ≥{AWAY_SECONDS * 1000:.0f} ms from voicing changes; "
                 "voicing over all frames. Amphion's path: its tracker call, then its end-pad/cut (align_length). "
                 "Timings from one run."])
    if failed:
        print(f"FAIL: median pitch error above {TARGET_CENTS} cents for {', '.join(failed)}")
        return 1
    print("PASS: pitch targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
