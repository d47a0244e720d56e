"""``svcprep report`` throughput and memory: real-time factor on 2 cores (target ≥ 200× for the weight-free
measures, F0 range included), peak RSS of the process tree flat in clip length (one 1-minute against one 30-minute
file, target ≤ 1.2×) and in corpus size, against the usual script: one file at a time, read whole, pyloudnorm and
parselmouth on the whole array, numpy for the rest (``naive_report_loop``)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from tests.report_corpus import SAMPLE_RATE, sung  # noqa: E402

TARGET_REAL_TIME = 200.0
TARGET_LENGTH_RSS_RATIO = 1.2
NAIVE_LOOP = '''
import json, sys
import numpy as np, parselmouth, pyloudnorm, soundfile as sf
from pathlib import Path
rows = []
for path in sorted(Path(sys.argv[1]).rglob("*.wav")):
    x, rate = sf.read(path, dtype="float64")
    f0 = parselmouth.Sound(x, rate).to_pitch_ac(time_step=0.01, pitch_floor=40, pitch_ceiling=2000)
    f0 = f0.selected_array["frequency"]
    voiced = f0[f0 > 0]
    rows.append({"uid": str(path), "lufs": pyloudnorm.Meter(rate).integrated_loudness(x),
                 "peak": float(np.abs(x).max()), "clipped": float(np.mean(np.abs(x) >= 0.999)),
                 "dc": float(x.mean()), "f0": [float(np.percentile(voiced, 1)), float(np.percentile(voiced, 99))]})
Path(sys.argv[2]).write_text(json.dumps(rows))
'''


def write_corpus(root: Path, num_clips: int, clip_seconds: float) -> float:
    base = sung(clip_seconds, 220.0, seed=0)
    for index in range(num_clips):  # a different clip each (no duplicate), at no cost of synthesis
        x = np.roll(base, index * 997) * (0.5 + 0.5 * (index % 7) / 7)
        path = root / f"singer_{index % 4}" / f"clip_{index:04d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, x, SAMPLE_RATE, subtype="PCM_16")
    return num_clips * clip_seconds


def write_long(path: Path, minutes: float) -> float:
    """A long take written a minute at a time (the benchmark itself stays small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    minute = sung(60.0, 220.0, seed=1)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, subtype="PCM_16") as f:
        for index in range(int(minutes)):
            f.write(np.roll(minute, index * 4410))
    return minutes * 60.0


def report(source: Path, out: Path, *args: str):
    result = measure([sys.executable, "-m", "svcprep", "report", str(source), "--out", str(out), *args])
    if result.returncode != 0:
        raise SystemExit(f"svcprep report failed:\n{result.output[-3000:]}")
    return result


def main() -> int:
    rows, failures, notes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus_seconds = write_corpus(tmp / "corpus", 240, 10.0)
        for label, args in (("svcprep report (2 workers)", ()), ("svcprep report --no-pitch", ("--no-pitch",))):
            m = report(tmp / "corpus", tmp / f"out_{len(rows)}", *args)
            factor = corpus_seconds / m.wall_seconds
            rows.append([f"{label}, 240 clips, {corpus_seconds / 60:.0f} min", f"{m.wall_seconds:.1f} s",
                         f"{factor:.0f}×", f"{m.peak_rss_bytes / 2**30:.2f} GiB"])
            if factor < TARGET_REAL_TIME:
                failures.append(f"{label}: {factor:.0f}× real time < {TARGET_REAL_TIME:.0f}×")
        naive = measure([sys.executable, "-c", NAIVE_LOOP, str(tmp / "corpus"), str(tmp / "naive.json")])
        assert naive.returncode == 0, naive.output
        rows.append(["naive loop (one process, whole files), 240 clips", f"{naive.wall_seconds:.1f} s",
                     f"{corpus_seconds / naive.wall_seconds:.0f}×", f"{naive.peak_rss_bytes / 2**30:.2f} GiB"])
        ours = {Path(c["path"]).name: c["lufs"] for c in
                json.loads((tmp / "out_0" / "report.json").read_text())["clips"]}
        theirs = {Path(r["uid"]).name: r["lufs"] for r in json.loads((tmp / "naive.json").read_text())}
        worst = max(abs(ours[name] - theirs[name]) for name in theirs)
        notes.append(f"LUFS of the report against pyloudnorm on the whole file: largest difference {worst:.2e} LU.")

        peaks = {}
        for minutes in (1, 30):
            seconds = write_long(tmp / f"long_{minutes}" / "s" / "take.wav", minutes)
            m = report(tmp / f"long_{minutes}", tmp / f"out_long_{minutes}")
            peaks[minutes] = m.peak_rss_bytes
            rows.append([f"svcprep report, one {minutes}-minute file", f"{m.wall_seconds:.1f} s",
                         f"{seconds / m.wall_seconds:.0f}×", f"{m.peak_rss_bytes / 2**30:.2f} GiB"])
        ratio = peaks[30] / peaks[1]
        notes.append(f"peak RSS, 30-minute file / 1-minute file: {ratio:.2f}× (target ≤ {TARGET_LENGTH_RSS_RATIO}×)")
        if ratio > TARGET_LENGTH_RSS_RATIO:
            failures.append(f"peak RSS grows with clip length: {ratio:.2f}×")
    notes.append("Real time = seconds of audio / wall seconds, the whole command (start-up, worker start, the page "
                 "with its listening copies) included; 44.1 kHz 16-bit mono WAV.")
    write_table("report", ["case", "wall", "real time", "peak RSS (tree)"], rows, notes + failures)
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
