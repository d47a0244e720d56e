"""Pipeline time over a bare transformers forward of the same model on the same batches (target <= 15% more).

The denominator is independent of svcprep's model code: the corpus is cut into the batches the run makes,
each batch is decoded and zero-padded outside the timer, and ``HubertModel(batch)`` runs on it, as a
peer's loop would. The numerator is the run's wall time after set-up (model load): decode waits, svcprep's
exact-batching forward (masked conv norm, frame masks), alignment, hand-off to the writer, progress.
Runs on the GPU when one is present (``--device``), else on the CPU with a mid-size random HuBERT; once with
the device defaults and once with one decode worker.
Exit code 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import amphion_run_config, write_table  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import SyntheticFile, write_corpus  # noqa: E402
from svcprep.pipeline.runner import Pipeline  # noqa: E402
from svcprep.recipes.settings import ExtractorConfig  # noqa: E402

TARGET = 0.15


def bare_forward_seconds(corpus: Path, model_dir: Path, batch_seconds: float, device: str) -> float:
    """Total time of ``HubertModel(batch)`` over the run's batches (input prepared outside the timer)."""
    import time

    import torch
    from transformers import HubertModel

    from svcprep.audio.io import decode, probe_seconds, resample, to_channels
    from svcprep.corpus.scan import load_corpus
    from svcprep.extractors.base import pad_batch, resolve_device
    from svcprep.pipeline.decode import make_batches

    target = resolve_device(device)
    model = HubertModel.from_pretrained(str(model_dir)).eval().to(target)
    entries = [(e, probe_seconds(e.path)) for e in load_corpus(corpus).entries]
    total = 0.0
    for batch in make_batches(entries, batch_seconds):
        waves = []
        for entry in batch:
            audio = decode(entry.path)
            waves.append(resample(to_channels(audio, 1), audio.sample_rate, 16000))
        inputs = pad_batch(waves, 1).to(target)
        with torch.inference_mode():
            if target.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(inputs)
            if target.type == "cuda":
                torch.cuda.synchronize()
            total += time.perf_counter() - start
    return total


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
        for workers in (None, 1):
            config = amphion_run_config(root / "corpus", root / f"out{workers}",
                                        (ExtractorConfig("hubert", str(model)),), mels=False, device=args.device,
                                        num_workers=workers)
            pipeline = Pipeline(config)
            s = pipeline.run()
            assert s.failed == 0, "benchmark run had failures"
            batch_seconds, used_workers = pipeline.batching
            bare = bare_forward_seconds(root / "corpus", model, batch_seconds, args.device)
            work = s.wall_seconds - s.setup_seconds
            overhead = (work - bare) / bare
            failed |= workers is None and overhead > TARGET  # the target binds the defaults
            label = "defaults" if workers is None else f"--num-workers {workers} (for information)"
            rows.append([f"hubert 4×256, {args.files} files, {label} ({used_workers} workers, "
                         f"batches of {batch_seconds:g} s)", f"{s.audio_seconds:.0f} s",
                         f"{s.audio_seconds / work:.1f}×", f"{bare:.2f} s", f"{work:.2f} s",
                         f"{overhead * 100:.1f}%"])
    write_table("pipeline", ["run", "audio", "throughput (× real time)", "bare forward, same batches",
                             "pipeline after set-up", "pipeline over bare forward (≤15%)"], rows,
                [f"device: {args.device}; both timings in the same process, one after the other. The 15% target "
                 "binds the defaults row; on a CPU a decode worker competes with the model for the cores, which "
                 "is why the CPU default decodes in the main process."])
    print("FAIL: pipeline overhead above 15%" if failed else "PASS: pipeline overhead within 15%")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
