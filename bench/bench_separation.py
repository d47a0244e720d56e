"""Separation on the CPU: ``svcprep separate`` against the reference's own per-file loop (MSST's ``proc_folder``,
``bench/msst_loop.py``) on the same tiny random-weight BS-RoFormer in the published chunking (8 s chunks, overlap
2, one chunk per forward as the config says), whole processes; their outputs compared; then the peak RSS of both on
a one-hour track against a one-minute one.

Targets: svcprep at least as fast as the reference's loop (≥ 1.0×) with the same vocals (≤ 1e-5); svcprep's peak
RSS on the one-hour track within 1.25× of its peak on the one-minute track (it streams; the reference loads the
track, its padded copy and the result arrays whole). Exit code 1 when one is missed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import song  # noqa: E402

TARGET_SPEED = 1.0
TARGET_LONG_RSS = 1.25
TOLERANCE = 1e-5
SONG_SECONDS = (24.0, 31.0, 38.0, 45.0, 52.0, 60.0)


def write_long(path: Path, minutes: float) -> None:
    """A long stereo 44.1 kHz float WAV written a minute at a time (a 1-minute song repeated, varied)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = song(60.0, 44100, seed=99)
    with sf.SoundFile(path, "w", samplerate=44100, channels=2, subtype="FLOAT") as f:
        for minute in range(int(minutes)):
            f.write(block * (0.6 + 0.4 * ((minute % 5) / 4)))


def svcprep_separate(corpus: Path, out: Path, checkpoint: Path, *extra: str):
    return measure([sys.executable, "-m", "svcprep", "separate", str(corpus), "--out", str(out), "--model",
                    f"vocals={checkpoint}", "--device", "cpu", *extra])


def msst_loop(corpus: Path, out: Path, checkpoint: Path):
    return measure([sys.executable, str(Path(__file__).parent / "msst_loop.py"), "bs_roformer",
                    str(checkpoint.with_suffix(".yaml")), str(checkpoint), str(corpus), str(out)])


def main() -> int:
    rows, notes, failures = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checkpoint = tiny_models.save_separator(root / "models" / "vocals.ckpt", chunk_size=352800, num_overlap=2)
        config = checkpoint.with_suffix(".yaml")
        config.write_text(config.read_text().replace("batch_size: 2", "batch_size: 1"))
        corpus = root / "songs"
        corpus.mkdir()
        for index, seconds in enumerate(SONG_SECONDS):
            sf.write(corpus / f"song_{index:02d}.wav", song(seconds, 44100, seed=index), 44100, subtype="FLOAT")
        audio_seconds = sum(SONG_SECONDS)
        reference = msst_loop(corpus, root / "msst", checkpoint)
        assert reference.returncode == 0, reference.output[-3000:]
        ours = svcprep_separate(corpus, root / "svcprep", checkpoint)
        assert ours.returncode == 0, ours.output[-3000:]
        batched = svcprep_separate(corpus, root / "svcprep_b4", checkpoint, "--batch-size", "4")
        assert batched.returncode == 0, batched.output[-3000:]
        worst = 0.0
        for index in range(len(SONG_SECONDS)):
            want, _ = sf.read(root / "msst" / f"song_{index:02d}" / "vocals.wav", dtype="float32")
            for out in ("svcprep", "svcprep_b4"):
                got, _ = sf.read(root / out / "vocals" / "vocals" / f"song_{index:02d}.wav", dtype="float32")
                worst = max(worst, float(np.abs(got - want).max()))
        for label, result in (("reference loop (MSST proc_folder, batch 1)", reference),
                              ("svcprep separate (batch 1)", ours), ("svcprep separate --batch-size 4", batched)):
            rows.append([label, f"{len(SONG_SECONDS)} songs, {audio_seconds / 60:.1f} min",
                         f"{result.wall_seconds:.1f} s", f"{audio_seconds / result.wall_seconds:.1f}×",
                         f"{result.peak_rss_bytes / 2**30:.2f} GiB"])
        speed = reference.wall_seconds / ours.wall_seconds
        notes.append(f"svcprep / reference loop: {speed:.2f}× faster (target ≥ {TARGET_SPEED}); largest difference "
                     f"between their vocals {worst:.1e} (target ≤ {TOLERANCE:g})")
        if speed < TARGET_SPEED:
            failures.append(f"speed {speed:.2f}× < {TARGET_SPEED}")
        if worst > TOLERANCE:
            failures.append(f"outputs differ by {worst:.1e}")

        long_rss = {}
        for minutes in (1, 60):
            track = root / f"long_{minutes}" / "track.wav"
            write_long(track, minutes)
            result = svcprep_separate(track.parent, root / f"out_{minutes}", checkpoint)
            assert result.returncode == 0, result.output[-3000:]
            long_rss[minutes] = result.peak_rss_bytes
            rows.append([f"svcprep separate, one {minutes}-minute track", f"{minutes} min",
                         f"{result.wall_seconds:.1f} s", f"{minutes * 60 / result.wall_seconds:.1f}×",
                         f"{result.peak_rss_bytes / 2**30:.2f} GiB"])
            if minutes == 60:
                reference = msst_loop(track.parent, root / "msst_long", checkpoint)
                rows.append(["reference loop, one 60-minute track", "60 min", f"{reference.wall_seconds:.1f} s",
                             f"{3600 / reference.wall_seconds:.1f}×",
                             f"{reference.peak_rss_bytes / 2**30:.2f} GiB"
                             + ("" if reference.returncode == 0 else f" (exit {reference.returncode})")])
            track.unlink()
        growth = long_rss[60] / long_rss[1]
        notes.append(f"svcprep peak RSS, 60-minute / 1-minute track: {growth:.2f}× (target ≤ {TARGET_LONG_RSS})")
        if growth > TARGET_LONG_RSS:
            failures.append(f"peak RSS grows {growth:.2f}× with the track")
    notes.append("Tiny random-weight BS-RoFormer (dim 32, depth 1, the published 62 bands, STFT 2048/441) in the "
                 "published chunking; the reference is the msst 0.1.0 package's proc_folder, unmodified. "
                 "One run each on this machine's CPU.")
    write_table("separation", ["case", "audio", "wall", "× real time", "peak RSS (tree)"], rows, notes)
    if failures:
        print("MISSED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
