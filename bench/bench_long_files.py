"""Files of any length in bounded memory: peak RSS of the whole process tree against the file's length (15 min,
1 h, 3 h of 24 kHz 16-bit mono) for ``svcprep mel --energy``, ``svcprep pitch --method parselmouth`` and
``svcprep extract -e hubert``; target: the 3-hour peak at most 1.3× the 15-minute one and under 2.5 GiB, every
output with the mel's frame count. For scale, the whole-file path (``--stream-seconds`` above the length) on the
15-minute file.

The HuBERT here has HuBERT-base's structure (7 conv layers, a transformer encoder, 30 s chunks with 2 s overlap)
at a narrow width (2 layers of 256): a full-size one runs about 2-5× real time on 2 CPU cores, 40+ minutes for the
3-hour file; the memory of one chunk is what stays constant either way.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from tests.report_corpus import sung  # noqa: E402

SAMPLE_RATE, HOP = 24000, 256  # the amphion-svc-24k preset: no resampling, mel frames = samples // 256
LENGTHS_MINUTES = (15, 60, 180)
TARGET_RATIO, TARGET_GIB = 1.3, 2.5
NARROW_HUBERT = {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512,
                 "conv_dim": (128,) * 7}


def write_take(path: Path, minutes: int) -> None:
    """A take written a minute at a time (each minute a different phrase pattern), 16-bit PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    minute = sung(60.0, 220.0, sample_rate=SAMPLE_RATE, seed=1)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, subtype="PCM_16") as f:
        for index in range(minutes):
            f.write(np.roll(minute, index * 997) * (0.6 + 0.3 * (index % 3) / 2))


def save_hubert(root: Path) -> Path:
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    HubertModel(HubertConfig(**NARROW_HUBERT)).save_pretrained(root)
    Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(root)
    return root


def main() -> int:
    rows, notes, failures = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        hubert = save_hubert(tmp / "hubert")
        commands = {
            # output dir -> the axis its rows are along
            "mel --energy": (["mel", "--energy"], {"mels": 1, "energys": 0}),
            "pitch --method parselmouth": (["pitch", "--method", "parselmouth"], {"pitches": 0, "uvs": 0}),
            "extract -e hubert": (["extract", "-e", "hubert", "--model", f"hubert={hubert}"], {"hubert": 0}),
        }
        peaks: dict[str, dict[int, float]] = {name: {} for name in commands}
        for minutes in LENGTHS_MINUTES:
            corpus = tmp / f"corpus_{minutes}"
            write_take(corpus / "s" / "take.wav", minutes)
            mel_frames = sf.info(str(corpus / "s" / "take.wav")).frames // HOP
            runs = [(name, minutes, ()) for name in commands]
            if minutes == LENGTHS_MINUTES[0]:
                runs += [(name, minutes, ("--stream-seconds", str(10 ** 6))) for name in commands]
            for name, _, extra in runs:
                args, files = commands[name]
                out = tmp / f"out_{minutes}_{len(rows)}"
                m = measure([sys.executable, "-m", "svcprep", args[0], str(corpus), "-o", str(out), *args[1:],
                             "--num-workers", "0", *extra])
                if m.returncode != 0:
                    raise SystemExit(f"{name} on {minutes} min failed:\n{m.output[-3000:]}")
                for directory, axis in files.items():
                    rows_found = np.load(out / directory / "s" / "take.npy", mmap_mode="r").shape[axis]
                    if rows_found != mel_frames:
                        failures.append(f"{name}, {minutes} min: {directory} has {rows_found} rows, the mel "
                                        f"{mel_frames}")
                gib = m.peak_rss_bytes / 2**30
                label = "whole-file path" if extra else "default (windows)"
                rows.append([name, f"{minutes} min", label, f"{m.wall_seconds:.1f} s",
                             f"{minutes * 60 / m.wall_seconds:.0f}×", f"{gib:.2f} GiB"])
                if not extra:
                    peaks[name][minutes] = gib
                print(rows[-1], flush=True)
                shutil.rmtree(out)
            (corpus / "s" / "take.wav").unlink()
        for name, by_length in peaks.items():
            short, longest = by_length[LENGTHS_MINUTES[0]], by_length[LENGTHS_MINUTES[-1]]
            ratio = longest / short
            notes.append(f"{name}: peak RSS 3 h / 15 min = {ratio:.2f}× (target ≤ {TARGET_RATIO}×), 3 h peak "
                         f"{longest:.2f} GiB (target < {TARGET_GIB} GiB)")
            if ratio > TARGET_RATIO or longest >= TARGET_GIB:
                failures.append(f"{name}: {ratio:.2f}×, {longest:.2f} GiB")
    notes.append("Every output of every run has the mel's frame count (samples // 256). One run each, "
                 "--num-workers 0; peak RSS of the whole process tree.")
    write_table("long_files", ["command", "file", "path", "wall", "real time", "peak RSS (tree)"], rows,
                notes + [f"FAILED: {f}" for f in failures])
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
