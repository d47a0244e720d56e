"""Peak RSS of a whole run (process tree) for 100 and 1,000 files: it must not grow with the corpus (≤ 10%).

Short generated clips and a tiny HuBERT keep the run short; mels are computed too, with the default workers.
Exit code 1 when the 1,000-file peak exceeds the 100-file peak by more than 10%.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import SyntheticFile, write_corpus  # noqa: E402

TARGET = 1.10


def main() -> int:
    rows, peaks = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = tiny_models.save_speech_model(root / "hubert", "hubert")
        for count in (100, 1000):
            corpus = root / f"corpus{count}"
            write_corpus(corpus, tuple(SyntheticFile(f"s{i % 10}/{i:04d}.wav", 0.5 + 0.01 * (i % 7), 24000, 1)
                                       for i in range(count)))
            command = [sys.executable, "-m", "svcprep", "run", "--config", str(root / f"run{count}.yaml")]
            (root / f"run{count}.yaml").write_text(
                f"corpus: {corpus}\nout: {root / f'out{count}'}\nmels: true\nenergy: true\n"
                f"extractors:\n  - name: hubert\n    model: {model}\n")
            result = measure(command)
            assert result.returncode == 0, result.output
            peaks[count] = result.peak_rss_bytes
            rows.append([f"{count} files", f"{result.wall_seconds:.1f} s", f"{result.peak_rss_bytes / 2**20:.0f} MiB"])
    ratio = peaks[1000] / peaks[100]
    rows.append(["1,000 / 100", "", f"{ratio:.3f}× (≤{TARGET:.2f}×)"])
    write_table("scale", ["corpus", "wall", "peak RSS (process tree)"], rows,
                ["Mels + energy + a tiny HuBERT, 0.5 s clips at 24 kHz, default workers; one run each."])
    if ratio > TARGET:
        print(f"FAIL: peak RSS grows {ratio:.3f}× from 100 to 1,000 files")
        return 1
    print("PASS: peak RSS flat in corpus size")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
