"""``make demo``: a self-contained run on generated data (no downloads)."""

from __future__ import annotations

import argparse
from pathlib import Path

from svcprep.align.grid import format_rate, grid_ratio
from svcprep.extractors.registry import ENTRIES, spec_for
from svcprep.presets import load_preset


def print_hops(preset_name: str) -> None:
    preset = load_preset(preset_name)
    print(f"Frame grids against {preset_name} (mel {preset.sample_rate}/{preset.hop_length} = "
          f"{format_rate(preset.grid.frame_rate)} Hz):")
    for name in ENTRIES:
        spec = spec_for(name)
        r = grid_ratio(spec.grid, preset.grid)
        print(f"  {spec.describe():<75} ratio {r.source_units}:{r.target_units}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.parse_args(argv)
    print_hops("amphion-svc-24k")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
