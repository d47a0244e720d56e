"""``make bench``: run every benchmark, then the slow checks; exit non-zero if any target is missed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPU_ONLY = {"bench_gpu.py"}  # make bench-gpu
BENCHES = sorted(p for p in (ROOT / "bench").glob("bench_*.py") if p.name not in GPU_ONLY)


def main() -> int:
    failed = []
    for path in BENCHES:
        print(f"== {path.name}", flush=True)
        if subprocess.run([sys.executable, str(path)], cwd=ROOT).returncode != 0:
            failed.append(path.name)
    print("== slow checks (pytest -m slow)", flush=True)
    code = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "slow"], cwd=ROOT).returncode
    if code not in (0,):
        failed.append(f"pytest -m slow (exit {code})")
    print(f"results tables in {ROOT / 'bench' / 'results'}")
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
