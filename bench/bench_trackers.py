"""Neural pitch on the CPU: svcprep's batched FCPE against torchfcpe's own one-file loop (its real weights, the
same 16 kHz audio), svcprep's RMVPE batched against one file at a time, and the peak RSS of a whole
``svcprep pitch`` run on a 20-minute file.

torchfcpe is run unmodified from here: its import needs torchaudio (no build for this torch), used only by its
resampler, so a stand-in whose ``Resample`` raises takes its place in ``sys.modules``; the audio is 16 kHz, so
nothing calls it. torchfcpe's own dependencies (einops, local-attention) are installed by ``make bench``.
RVC's RMVPE module imports RVC's own config and CUDA-graph helpers, so it cannot run outside RVC's tree; its rows
compare svcprep's batching with svcprep's network run one file at a time (the shape of RVC's loop), on a
full-size E2E(4, 1, (2, 2)) with random weights.

Targets: FCPE with svcprep's CPU default (one clip per model call, as a run does) within 10% of torchfcpe's loop
(the same network on the same cores: parity is the ceiling on a CPU; batching pays on a GPU, ``make bench-gpu``),
its F0 the same (voicing ≥ 99%, voiced frames within 1 cent on ≥ 99%); a 20-minute file under 2 GiB peak RSS with
either tracker. Exit code 1 when one is missed.
"""

from __future__ import annotations

import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from svcprep.demo import tiny_models  # noqa: E402
from svcprep.demo.synthetic import known_pitch_clip  # noqa: E402

SAMPLE_RATE = 16000
BATCH_SECONDS = 60.0
LONG_MINUTES = 20
RSS_TARGET_BYTES = 2 * 2**30
FCPE_SPEED_TARGET = 0.9  # the same network on the same cores: parity is the ceiling on a CPU


def corpus(count: int = 40) -> list[np.ndarray]:
    """Sung lines (glide, vibrato, a gap) of 2–10 s at 16 kHz, each with its own start note."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(count):
        seconds = float(rng.uniform(2.0, 10.0))
        wav = known_pitch_clip(SAMPLE_RATE, seconds, ((0.4 * seconds, 0.4 * seconds + 0.3),))
        clips.append(np.roll(wav, i * 977).astype(np.float32))
    return clips


def batches_of(clips: list[np.ndarray], batch_seconds: float) -> list[list[int]]:
    """Indices in length-sorted batches of at most ``batch_seconds`` of audio, as the pipeline forms them."""
    order = sorted(range(len(clips)), key=lambda i: len(clips[i]), reverse=True)
    batches, current, total = [], [], 0.0
    for i in order:
        seconds = len(clips[i]) / SAMPLE_RATE
        if current and total + seconds > batch_seconds:
            batches.append(current)
            current, total = [], 0.0
        current.append(i)
        total += seconds
    return batches + [current] if current else batches


def torchfcpe_model():
    """torchfcpe 0.0.4 itself, on the CPU, with its bundled weights."""
    stand_in = types.ModuleType("torchaudio")
    stand_in.transforms = types.ModuleType("torchaudio.transforms")

    class Resample:  # only reached for input that is not 16 kHz; the benchmark feeds 16 kHz
        def __init__(self, *args, **kwargs):
            raise RuntimeError("torchaudio stand-in: the benchmark feeds 16 kHz audio")

    stand_in.transforms.Resample = Resample
    sys.modules.setdefault("torchaudio", stand_in)
    sys.modules.setdefault("torchaudio.transforms", stand_in.transforms)
    from torchfcpe import spawn_bundled_infer_model

    return spawn_bundled_infer_model("cpu")


def torchfcpe_loop(model, clips: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    out = []
    with torch.no_grad():
        for wav in clips:
            f0 = model.infer(torch.from_numpy(wav)[None, :, None], sr=SAMPLE_RATE, decoder_mode="local_argmax",
                             threshold=0.006, interp_uv=False)
            out.append(f0.squeeze().cpu().numpy())
    return out


def batched(tracker, clips: list[np.ndarray]) -> list[np.ndarray]:
    out: list[np.ndarray | None] = [None] * len(clips)
    for batch in batches_of(clips, BATCH_SECONDS):
        for i, f0 in zip(batch, tracker.extract([clips[i] for i in batch]), strict=True):
            out[i] = f0
    return out


def one_by_one(tracker, clips: list[np.ndarray]) -> list[np.ndarray]:
    return [tracker.extract([wav])[0] for wav in clips]


def timed(func):
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def agreement(ours: list[np.ndarray], reference: list[np.ndarray]) -> tuple[float, float]:
    """(share of frames with the same voicing, share of frames voiced in both within 1 cent)."""
    a, b = np.concatenate(ours), np.concatenate(reference)
    assert a.shape == b.shape, (a.shape, b.shape)
    both = (a > 0) & (b > 0)
    return float(np.mean((a > 0) == (b > 0))), float(np.mean(np.abs(1200 * np.log2(a[both] / b[both])) <= 1.0))


def long_run(root: Path, method: str, model: Path | None) -> tuple[float, int]:
    """Wall seconds and peak RSS of ``svcprep pitch`` on one 20-minute 44.1 kHz file (process tree)."""
    import soundfile as sf

    wav_path = root / "long" / "take.wav"
    if not wav_path.exists():
        wav_path.parent.mkdir(parents=True)
        sf.write(wav_path, known_pitch_clip(44100, LONG_MINUTES * 60.0, ((300.0, 301.0),)), 44100, subtype="PCM_16")
    command = [sys.executable, "-m", "svcprep", "pitch", str(wav_path.parent), "--out", str(root / f"long_{method}"),
               "--method", method, "--device", "cpu"] + (["--model", str(model)] if model else [])
    result = measure(command)
    assert result.returncode == 0, result.output
    return result.wall_seconds, result.peak_rss_bytes


def main() -> int:
    import torch

    from svcprep import load_pitch_tracker

    clips = corpus()
    audio_seconds = sum(len(c) for c in clips) / SAMPLE_RATE
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fcpe = load_pitch_tracker("fcpe", device="cpu")
        reference_model = torchfcpe_model()
        torchfcpe_loop(reference_model, clips[:2]), one_by_one(fcpe, clips[:2]), batched(fcpe, clips[:2])  # warm-up
        theirs, t_theirs = timed(lambda: torchfcpe_loop(reference_model, clips))
        for label, run in (("svcprep's CPU default: one clip per call", one_by_one),
                           (f"batches of ≤{BATCH_SECONDS:g} s (for information)", batched)):
            ours, t_ours = timed(lambda run=run: run(fcpe, clips))
            voicing, within = agreement(ours, theirs)
            speedup = t_theirs / t_ours
            held = run is one_by_one
            rows.append([f"FCPE (torchfcpe's weights), {label}", "torchfcpe's own loop, one file at a time",
                         f"{audio_seconds / t_theirs:.0f}×", f"{audio_seconds / t_ours:.0f}×",
                         f"{speedup:.2f}×" + (f" (≥{FCPE_SPEED_TARGET:g}×)" if held else ""),
                         f"voicing {voicing * 100:.2f}%, ≤1 cent {within * 100:.2f}%"])
            if voicing < 0.99 or within < 0.99 or (held and speedup < FCPE_SPEED_TARGET):
                failed.append(f"FCPE vs torchfcpe ({label})")

        checkpoint = tiny_models.save_rmvpe(root / "rmvpe.pt", full_size=True)
        rmvpe = load_pitch_tracker("rmvpe", checkpoint, device="cpu")
        short = clips[:12]
        short_seconds = sum(len(c) for c in short) / SAMPLE_RATE
        one_by_one(rmvpe, short[:1]), batched(rmvpe, short[:1])  # warm-up
        alone, t_alone = timed(lambda: one_by_one(rmvpe, short))
        together, t_together = timed(lambda: batched(rmvpe, short))
        voicing, within = agreement(together, alone)
        rows.append([f"RMVPE E2E(4, 1, (2, 2)), random weights, batches of ≤{BATCH_SECONDS:g} s",
                     "svcprep's network, one file at a time",
                     f"{short_seconds / t_alone:.1f}×", f"{short_seconds / t_together:.1f}×",
                     f"{t_alone / t_together:.2f}× (for information)",
                     f"voicing {voicing * 100:.2f}%, ≤1 cent {within * 100:.2f}%"])

        for method, model in (("fcpe", None), ("rmvpe", checkpoint)):
            wall, peak = long_run(root, method, model)
            ok = peak < RSS_TARGET_BYTES
            failed += [] if ok else [f"{method} 20-minute RSS"]
            rows.append([f"{method}: one {LONG_MINUTES}-minute 44.1 kHz file, whole `svcprep pitch` run", "",
                         "", f"{LONG_MINUTES * 60 / wall:.1f}× (wall incl. start-up)", "",
                         f"peak RSS {peak / 2**30:.2f} GiB (<2 GiB)"])
    write_table("trackers", ["tracker", "baseline", "baseline × real time", "svcprep × real time", "speed-up",
                             "agreement / memory"], rows,
                [f"CPU, {torch.get_num_threads()} threads; FCPE: {len(clips)} clips, {audio_seconds:.0f} s at 16 kHz; "
                 f"RMVPE: the first {len(short)} clips ({short_seconds:.0f} s); svcprep in length-sorted batches of "
                 f"≤{BATCH_SECONDS:g} s. RSS summed over the process tree. Ratios from one run."])
    if failed:
        print(f"FAIL: {', '.join(failed)}")
        return 1
    print("PASS: tracker targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
