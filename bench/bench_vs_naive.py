"""svcprep's defaults against a naive peer-style loop (``naive_loop.py``), whole processes, on the CPU.

Real HuBERT-base and Whisper-base architectures (random weights), a generated corpus of 30 sung clips of 2–8 s
at 44.1 kHz (FLAC). Targets: svcprep at least as fast as the loop for HuBERT and Whisper ``window="full"``, peak
RSS of the whole process tree ≤ 1.2× the loop's; ``window="trim"`` ≥ 3× faster than the loop; a rerun with
nothing to do under 2 s. Outputs are compared with the loop's. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import WHISPER_BASE, save_random_models, write_table  # noqa: E402
from bench.process_tree import measure  # noqa: E402
from svcprep.demo.synthetic import SyntheticFile, write_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def build_models(root: Path) -> dict[str, Path]:
    return save_random_models(root, {}, WHISPER_BASE)  # HuBERT-base: the default config, 12 × 768


def max_difference(a: Path, b: Path) -> float:
    worst = 0.0
    for path in a.rglob("*.npy"):
        worst = max(worst, float(np.abs(np.load(path) - np.load(b / path.name)).max()))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    files = tuple(SyntheticFile(f"c{i:03d}.flac", float(rng.uniform(2, 8)), 44100, 1) for i in range(args.files))
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root / "corpus", files)
        audio_seconds = sum(f.seconds for f in files)
        models = build_models(root)
        py = sys.executable
        cases = [("hubert", "hubert", {}, 1.0), ("whisper full", "whisper", {}, 1.0),
                 ("whisper trim", "whisper", {"window": "trim"}, 3.0)]
        naive = {}
        for label, kind, options, speedup_target in cases:
            if kind not in naive:
                naive[kind] = measure([py, str(ROOT / "bench" / "naive_loop.py"), kind, str(models[kind]),
                                       str(root / "corpus"), str(root / f"naive_{kind}")])
                assert naive[kind].returncode == 0, naive[kind].output
            out = root / f"svcprep_{label.replace(' ', '_')}"
            command = [py, "-m", "svcprep", "extract", str(root / "corpus"), "--out", str(out), "-e", kind,
                       "--model", f"{kind}={models[kind]}", "--device", "cpu", "--profile"]
            command += [item for k, v in options.items() for item in ("--set", f"{kind}.{k}={v}")]
            ours = measure(command)
            assert ours.returncode == 0, ours.output
            rerun = measure(command)
            speedup = naive[kind].wall_seconds / ours.wall_seconds
            rss_ratio = ours.peak_rss_bytes / naive[kind].peak_rss_bytes
            difference = max_difference(out / kind, root / f"naive_{kind}")
            ok = speedup >= speedup_target and rss_ratio <= 1.2 and rerun.wall_seconds < 2.0
            failed += [] if ok else [label]
            rows.append([label, f"{naive[kind].wall_seconds:.1f} s", f"{ours.wall_seconds:.1f} s",
                         f"{speedup:.2f}× (≥{speedup_target:g}×)", f"{naive[kind].peak_rss_bytes / 2**30:.2f} GiB",
                         f"{ours.peak_rss_bytes / 2**30:.2f} GiB", f"{rss_ratio:.2f}× (≤1.2×)",
                         f"{rerun.wall_seconds:.2f} s", f"{difference:.1e}"])
            profile = [line for line in ours.output.splitlines() if line.startswith("profile")]
            print(f"== {label}\n" + "\n".join(profile), flush=True)
    write_table("vs_naive", ["case", "naive loop", "svcprep defaults", "speed-up", "naive peak RSS",
                             "svcprep peak RSS", "RSS ratio", "rerun, nothing to do", "max |svcprep − naive|"],
                rows, [f"{args.files} clips, {audio_seconds:.0f} s of 44.1 kHz FLAC; HuBERT-base and Whisper-base "
                       "architectures with random weights; CPU, whole processes one after the other; RSS summed over "
                       "the process tree (decode workers included). Ratios from one run."])
    if failed:
        print(f"FAIL: targets missed for {', '.join(failed)}")
        return 1
    print("PASS: svcprep's defaults beat the naive loop")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
