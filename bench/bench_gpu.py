"""``make bench-gpu``: HuBERT-base and Whisper-medium architectures (random weights) on one GPU, float16 and
bfloat16, a batch sweep plus the memory-derived default; × real time end to end (model load excluded, as a
long job amortises it), the model's share of the wall time, peak GPU memory, and a naive loop (one file at a
time on the same GPU) as the baseline. Target: HuBERT-base ≥ 2,000× real time end to end at the best setting.
The separators of the published full-size configs (viperx BS-RoFormer ep 317, KimberleyJensen Mel-Band RoFormer;
random weights) per precision and chunks per forward: × real time, peak GPU memory, and the low precisions'
signal-to-difference ratio against float32 on the same chunks.

``--device cpu --quick`` runs a tiny version anywhere (a smoke test of this script, not a measurement).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import WHISPER_MEDIUM, amphion_run_config, save_random_models, write_table  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import SyntheticFile, known_pitch_clip, write_corpus  # noqa: E402

TARGET_HUBERT = 2000.0


def build(root: Path, quick: bool) -> dict[str, Path]:
    if quick:
        tiny = {"d_model": 64, "encoder_layers": 2, "encoder_attention_heads": 2, "encoder_ffn_dim": 128}
        return save_random_models(root, {"num_hidden_layers": 2}, tiny)
    return save_random_models(root, {}, WHISPER_MEDIUM)  # HuBERT-base: the default config, 12 × 768


def naive_seconds(kind: str, model_dir: Path, corpus: Path, device: str, dtype: str) -> float:
    """One file at a time on the same device, decode and resample inline (no model load in the timing)."""
    import soundfile as sf
    import soxr
    import torch
    from transformers import HubertModel, WhisperFeatureExtractor, WhisperModel

    torch_dtype = getattr(torch, dtype)
    if kind == "hubert":
        model = HubertModel.from_pretrained(str(model_dir)).eval().to(device, torch_dtype)
    else:
        features = WhisperFeatureExtractor.from_pretrained(str(model_dir))
        model = WhisperModel.from_pretrained(str(model_dir)).get_encoder().eval().to(device, torch_dtype)
    start = time.perf_counter()
    for path in sorted(corpus.rglob("*.flac")):
        wav, rate = sf.read(path, dtype="float32")
        wav16 = soxr.resample(wav, rate, 16000, quality="HQ").astype(np.float32)
        with torch.inference_mode():
            if kind == "hubert":
                out = model(torch.from_numpy(wav16)[None].to(device, torch_dtype)).last_hidden_state
            else:
                mel = features(wav16, sampling_rate=16000, return_tensors="pt").input_features
                out = model(mel.to(device, torch_dtype)).last_hidden_state
            out.float().cpu().numpy()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def tracker_rows(root: Path, device: str, quick: bool) -> list[list[str]]:
    """× real time of each neural tracker per batch size (16 kHz clips of 2–10 s), and one file at a time."""
    import torch

    from svcprep import load_pitch_tracker

    rng = np.random.default_rng(1)
    count = 4 if quick else 400
    clips = [known_pitch_clip(16000, float(rng.uniform(2, 10)), ()) for _ in range(count)]
    audio = sum(len(c) for c in clips) / 16000
    rmvpe = tiny_models.save_rmvpe(root / "rmvpe.pt", full_size=not quick)
    rows = []
    for name, model in (("fcpe", None), ("rmvpe", rmvpe)):
        for dtype in ("float32", "float16"):
            tracker = load_pitch_tracker(name, model, device=device, dtype=dtype)
            tracker.extract(clips[:2])  # warm-up
            for batch_size in (1, 8, 32) if not quick else (1, 2):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                for i in range(0, len(clips), batch_size):
                    tracker.extract(clips[i:i + batch_size])
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - start
                memory = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
                rows.append([name, dtype, str(batch_size), f"{audio / seconds:.0f}×", f"{memory:.2f} GiB"])
    return rows


FULL_SIZE_SEPARATORS = (("BS-RoFormer (viperx ep 317)", "full_size_bs_roformer.yaml", "viperx_bs_roformer_317"),
                        ("Mel-Band RoFormer (KJ)", "full_size_mel_band_roformer.yaml", "kj_mel_band_roformer"))


def separator_rows(root: Path, device: str, quick: bool) -> list[list[str]]:
    """Full-size published separators (random weights, the test fixtures' configs): chunks of 8 s per forward."""
    import json

    import torch

    from svcprep.separation.separator import load_separator

    fixtures = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "roformer_msst"
    shapes = json.loads((fixtures / "full_size_keys.json").read_text())
    rows = []
    for label, config, published in FULL_SIZE_SEPARATORS[:1] if quick else FULL_SIZE_SEPARATORS:
        checkpoint = root / f"{published}.ckpt"
        generator = torch.Generator().manual_seed(0)
        torch.save({k: torch.randn(v, generator=generator) * 0.02 for k, v in shapes[published].items()}, checkpoint)
        chunk_seconds = 0.5 if quick else 8.0
        num_chunks = 2 if quick else 16
        chunks = np.random.default_rng(0).standard_normal((num_chunks, 2, int(44100 * chunk_seconds)))
        chunks = (0.1 * chunks).astype(np.float32)
        reference = None
        for precision in ("float32", "bfloat16", "float16"):
            separator = load_separator(checkpoint, fixtures / config, device=device, precision=precision)
            outputs = []
            for batch_size in (1, 2) if quick else (1, 2, 4, 8):
                separator.run_chunks(chunks[:batch_size])  # warm-up
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
                outputs = [separator.run_chunks(chunks[i:i + batch_size]) for i in range(0, num_chunks, batch_size)]
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - start
                memory = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
                out = np.concatenate(outputs)
                if precision == "float32" and reference is None:
                    reference = out
                difference = float(np.sum((out - reference) ** 2))
                sdr = "exact" if difference == 0 else \
                    f"{10 * np.log10(float(np.sum(reference ** 2)) / difference):.1f} dB"
                rows.append([label, precision, str(batch_size), f"{num_chunks * chunk_seconds / seconds:.1f}×",
                             f"{memory:.1f} GiB", sdr])
            del separator
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench-gpu: no CUDA device visible; not run (pass --device cpu --quick for a smoke test)")
        return 2
    from svcprep.pipeline.runner import Pipeline
    from svcprep.recipes.settings import ExtractorConfig

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    count, seconds = (6, 2.0) if args.quick else (720, 5.0)
    rng = np.random.default_rng(0)
    files = tuple(SyntheticFile(f"s{i % 8}/{i:04d}.flac", float(rng.uniform(seconds * 0.4, seconds * 1.6)), 44100, 1)
                  for i in range(count))
    rows, best_hubert = [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root / "corpus", files)
        audio = sum(f.seconds for f in files)
        models = build(root, args.quick)
        sweep = [None, 30.0] if args.quick else [None, 60.0, 240.0, 960.0]
        for kind in ("hubert", "whisper"):
            for dtype in ("float16", "bfloat16"):
                naive = naive_seconds(kind, models[kind], root / "corpus", args.device, dtype)
                for batch_seconds in sweep:
                    if args.device.startswith("cuda"):
                        torch.cuda.reset_peak_memory_stats()
                    out = root / f"out_{kind}_{dtype}_{batch_seconds}"
                    config = amphion_run_config(root / "corpus", out, (ExtractorConfig(kind, str(models[kind])),),
                                                mels=False, device=args.device, dtype=dtype,
                                                batch_seconds=batch_seconds, profile=True)
                    pipeline = Pipeline(config)
                    summary = pipeline.run()
                    assert summary.failed == 0, summary.describe()
                    work = summary.wall_seconds - summary.setup_seconds
                    speed = audio / work
                    if kind == "hubert":
                        best_hubert = max(best_hubert, speed)
                    memory = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else 0.0
                    chosen = pipeline.batching[0] if pipeline.batching else 0.0
                    rows.append([kind, dtype, "default" if batch_seconds is None else f"{batch_seconds:g}",
                                 f"{chosen:.0f} s", f"{speed:.0f}×", f"{100 * summary.model_seconds / work:.0f}%",
                                 f"{memory:.1f} GiB", f"{audio / naive:.0f}×", f"{naive / work:.1f}×"])
        tracker_table = tracker_rows(root, args.device, args.quick)
        separator_table = separator_rows(root, args.device, args.quick)
    write_table("gpu", ["model", "dtype", "--batch-seconds", "batch used", "× real time (end to end)",
                        "model share", "peak GPU memory", "naive loop × real time", "speed-up over naive"], rows,
                [f"device: {device_name}; {count} clips, {audio:.0f} s of 44.1 kHz FLAC; end to end = wall after "
                 "model load (decode, resample, model, align, write); one run each."])
    write_table("gpu_trackers", ["tracker", "dtype", "clips per call", "× real time", "peak GPU memory"],
                tracker_table, [f"device: {device_name}; 16 kHz sung clips of 2–10 s ({'quick' if args.quick else 400}"
                                "); batch size 1 is a peer's one-file loop on the same network; one run each."])
    write_table("gpu_separation", ["separator", "precision", "chunks per forward", "× real time", "peak GPU memory",
                                   "against float32"], separator_table,
                [f"device: {device_name}; published full-size configs with random weights, 8 s stereo chunks at "
                 "44.1 kHz (the published chunk), network only (chunking and I/O stream beside it); low precisions "
                 "under autocast, compared with the float32 outputs of the same chunks (signal-to-difference "
                 "ratio); one run each."])
    if args.quick:
        return 0
    if best_hubert < TARGET_HUBERT:
        print(f"FAIL: HuBERT-base at {best_hubert:.0f}× real time, target {TARGET_HUBERT:.0f}×")
        return 1
    print("PASS: GPU targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
