"""Slicing + extraction of one 30-minute raw take, RVC's recipe end to end (high-pass, slicer, 3.7 s pieces,
ContentVec 12 × 768 with random weights, FCPE with torchfcpe's weights, every file of its experiment dir): wall time
and peak RSS of the whole process tree. Target: under 2 GiB. Exit code 1 when it is missed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import known_pitch_clip  # noqa: E402

MINUTES = 30
TARGET_BYTES = 2 * 2**30


def write_take(path: Path, sample_rate: int = 44100) -> None:
    """Phrases of 6–14 s between pauses of 0.6–1.5 s, written in blocks (never the whole take in memory twice)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", sample_rate, 1, subtype="PCM_16") as out:
        written = 0.0
        while written < MINUTES * 60:
            phrase, pause = float(rng.uniform(6, 14)), float(rng.uniform(0.6, 1.5))
            seconds = phrase + pause
            out.write(known_pitch_clip(sample_rate, seconds, ((phrase, seconds),), seed=int(written)))
            written += seconds


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_take(root / "takes" / "singer" / "take.wav")
        contentvec = tiny_models.save_fairseq_contentvec(root / "contentvec.pt", hidden_size=768, layers=12,
                                                         proj_dim=256)
        command = [sys.executable, "-m", "svcprep", "run", "-c", "rvc", "--corpus", str(root / "takes"),
                   "--out", str(root / "logs" / "take"), "--model", f"contentvec={contentvec}", "--device", "cpu"]
        result = measure(command, poll_seconds=0.05)
        assert result.returncode == 0, result.output
        pieces = len(list((root / "logs" / "take" / "0_gt_wavs").glob("*.wav")))
    ok = result.peak_rss_bytes < TARGET_BYTES
    write_table("slicing", ["run", "pieces", "wall", "× real time", "peak RSS (tree)"],
                [[f"svcprep run -c rvc, one {MINUTES}-minute 44.1 kHz take", str(pieces),
                  f"{result.wall_seconds:.0f} s", f"{MINUTES * 60 / result.wall_seconds:.1f}×",
                  f"{result.peak_rss_bytes / 2**30:.2f} GiB (<2 GiB)"]],
                ["CPU, one run, model load included; RSS summed over the process tree (decode workers included)."])
    if not ok:
        print(f"FAIL: peak RSS {result.peak_rss_bytes / 2**30:.2f} GiB")
        return 1
    print("PASS: a 30-minute take within 2 GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
