"""Pipeline overhead over the model's own forward time (target <= 15%), on a generated corpus.

overhead = (wall time - set-up - time inside the extractor's forward passes) / forward time, from one run's own
timers: decode waits, resampling done in the main process, alignment, hand-off to the writer, progress.
Runs on the GPU when one is present (``--device``), else on the CPU with a mid-size random HuBERT.
Exit code 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import write_table  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import SyntheticFile, write_corpus  # noqa: E402
from svcprep.pipeline.config import ExtractorConfig, PipelineConfig
from svcprep.pipeline.runner import run_pipeline  # noqa: E402
from svcprep.presets import load_preset  # noqa: E402

TARGET = 0.15


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--files", type=int, default=48)
    args = parser.parse_args()
    rates = (16000, 22050, 24000, 44100, 48000)
    files = tuple(SyntheticFile(f"s{i % 4}/{i:03d}.wav", 3.0 + (i % 5), rates[i % 5], 1 + i % 2)
                  for i in range(args.files))
    rows, failed = [], False
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root / "corpus", files)
        # Mid-size so that the forward pass, not Python, is what a real model's time looks like.
        model = tiny_models.save_speech_model(root / "hubert", "hubert", hidden_size=256, num_hidden_layers=4,
                                              intermediate_size=1024, num_attention_heads=4, conv_dim=[256] * 7)
        for workers in (1, 2):
            config = PipelineConfig(corpus=root / "corpus", out=root / f"out{workers}",
                                    preset=load_preset("amphion-svc-24k"), write_mels=False,
                                    extractors=(ExtractorConfig("hubert", str(model)),), device=args.device,
                                    num_workers=workers, batch_seconds=60)
            s = run_pipeline(config)
            assert s.failed == 0, "benchmark run had failures"
            work = s.wall_seconds - s.setup_seconds
            overhead = (work - s.model_seconds) / s.model_seconds
            failed |= overhead > TARGET
            rows.append([f"hubert 4×256, {args.files} files, {workers} decode worker(s)",
                         f"{s.audio_seconds:.0f} s", f"{s.audio_seconds / work:.1f}×", f"{overhead * 100:.1f}%"])
    write_table("pipeline", ["run", "audio", "throughput (× real time)", "overhead over forward (≤15%)"], rows,
                [f"device: {args.device}; ratios from one run's own timers."])
    print("FAIL: pipeline overhead above 15%" if failed else "PASS: pipeline overhead within 15%")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
