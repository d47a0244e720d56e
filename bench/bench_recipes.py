"""Several recipes in one pass: ``svcprep run -c amphion-svc -c so-vits-svc`` against each recipe run alone, whole
processes on the CPU.

Whisper-base and a 12 × 768 ContentVec (fairseq ``.pt``, random weights) for the content, each recipe's own
pitch default (parselmouth for Amphion, FCPE for so-vits-svc), 30 sung clips of 2–8 s at 44.1 kHz. The combined
run starts once, decodes each file once and loads each model once, and a model runs once on audio that several
recipes feed it. These two recipes share no model input: so-vits-svc's ContentVec and F0 read its trimmed,
peak-normalised int16 audio (what its own scripts compute them from), Amphion's read the source audio, and
Whisper and parselmouth are Amphion's alone; what one pass saves is start-up, decoding and model loading. Targets:
the combined run costs at most 1.3× the slower single run, and no more than the two runs it replaces. Exit code 1
when either is missed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import WHISPER_BASE, save_random_models, write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import SyntheticFile, write_corpus  # noqa: E402

TARGET_SLOWER = 1.3  # combined / the slower single run
TARGET_SUM = 1.0  # combined / sum of the single runs


def main() -> int:
    rng = np.random.default_rng(0)
    files = tuple(SyntheticFile(f"singer{i % 3}/c{i:03d}.flac", float(rng.uniform(2, 8)), 44100, 1)
                  for i in range(30))
    audio_seconds = sum(f.seconds for f in files)
    rows, walls = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root / "corpus", files)
        whisper = save_random_models(root, {"num_hidden_layers": 1}, WHISPER_BASE)["whisper"]
        contentvec = tiny_models.save_fairseq_contentvec(root / "contentvec.pt", hidden_size=768, layers=12,
                                                         proj_dim=256)
        models = ["--model", f"whisper={whisper}", "--model", f"contentvec={contentvec}"]
        cases = (("amphion-svc",), ("so-vits-svc",), ("amphion-svc", "so-vits-svc"))
        for configs in cases:
            label = " + ".join(configs)
            command = [sys.executable, "-m", "svcprep", "run", *[a for c in configs for a in ("-c", c)],
                       "--corpus", str(root / "corpus"), "--out", str(root / label.replace(" + ", "_")),
                       "--device", "cpu"]
            # --model names must be used by some recipe of the run: so-vits-svc alone has no Whisper
            command += models if "amphion-svc" in configs else models[2:]
            result = measure(command)
            assert result.returncode == 0, result.output
            walls[label] = result.wall_seconds
            rows.append([label, f"{result.wall_seconds:.1f} s", f"{audio_seconds / result.wall_seconds:.1f}×",
                         f"{result.peak_rss_bytes / 2**30:.2f} GiB"])
    slower = max(walls["amphion-svc"], walls["so-vits-svc"])
    combined = walls["amphion-svc + so-vits-svc"]
    ratio = combined / (walls["amphion-svc"] + walls["so-vits-svc"])
    rows.append(["combined / slower single", f"{combined / slower:.2f}× (≤{TARGET_SLOWER:g}×)", "", ""])
    rows.append(["combined / sum of singles", f"{ratio:.2f}× (≤{TARGET_SUM:g}×)", "", ""])
    write_table("recipes", ["run", "wall (whole process)", "× real time", "peak RSS (tree)"], rows,
                [f"30 clips, {audio_seconds:.0f} s of 44.1 kHz FLAC; Whisper-base encoder and a 12 × 768 ContentVec "
                 "(random weights); Amphion: mels, energy, parselmouth pitch, both features, statistics; so-vits-svc: "
                 "wavs, ContentVec, FCPE, volume, spectrogram, file lists. CPU, one run each, model load included."])
    failed = False
    if combined / slower > TARGET_SLOWER:
        print(f"FAIL: the combined run costs {combined / slower:.2f}× the slower single run")
        failed = True
    if ratio > TARGET_SUM:
        print(f"FAIL: the combined run costs {ratio:.2f}× the two single runs")
        failed = True
    if failed:
        return 1
    print("PASS: two recipes in one pass cost at most 1.3× the slower run and no more than the two runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
