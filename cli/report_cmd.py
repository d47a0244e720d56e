"""``svcprep report``: what is wrong with the data before anyone trains on it."""

from __future__ import annotations

from pathlib import Path

import typer

from svcprep.cli.common import reports_errors
from svcprep.cli.pipeline_cmds import CORPUS_HELP, parse_assignments
from svcprep.recipes import RECIPES
from svcprep.report.flags import Thresholds, parse_flags


@reports_errors
def report(
    path: Path = typer.Argument(..., help=CORPUS_HELP + " Or an svcprep output dir: the audio its trainer reads."),
    out: Path = typer.Option(..., "--out", "-o", help="Dir for report.json and report.html."),
    fail_on: str = typer.Option(None, "--fail-on", help="FLAG,...: exit 1 when any clip has one of these flags "
                                "(clipped, noisy, band_limited, dc_offset, too_short, too_long, mostly_silent, "
                                "pitch_out_of_range, duplicate), for data-prep jobs in CI."),
    trainer: str = typer.Option(None, "--trainer", help="Whose clip-length and F0 limits flag too_short, too_long "
                                f"and pitch_out_of_range: any (default for a corpus), "
                                f"{', '.join(r for r in RECIPES if r != 'pieces')} (default for a tree: its own)."),
    thresholds: list[str] = typer.Option([], "--set", help="NAME=VALUE: a flag threshold, e.g. min_snr_db=25 or "
                                         "max_seconds=12 (names and defaults: docs/report.md)."),
    pitch: bool = typer.Option(True, "--pitch/--no-pitch", help="Track F0 (40-2000 Hz, Praat) for the sung range; "
                               "--no-pitch skips it and the pitch_out_of_range flag."),
    dnsmos: bool = typer.Option(False, "--dnsmos", help="Also DNSMOS (overall, signal, background, P.808) per "
                                "clip, extra 'quality'; trained on speech, it ranks singing more than it scores "
                                "it."),
    workers: int = typer.Option(None, "--workers", min=0, help="Processes reading files (default: one per CPU, at "
                                "most 8; 0: in this process)."),
    max_players: int = typer.Option(60, "--max-players", min=0, help="Flagged clips that get a listening copy in "
                                    "the page."),
) -> None:
    """Measure every clip of PATH (peak, clipping, loudness in LUFS, silence, DC offset, bandwidth, SNR, sung range,
    duplicates), flag what a trainer would choke on, total it per singer, and write OUT/report.json and a page to
    look at, OUT/report.html. Each file is read once, as a stream; no model weights are needed.

    Exit code: 0 done, 1 a file could not be read or a --fail-on flag occurred, 2 usage error (found before any
    audio is read)."""
    from svcprep.report.run import write_report  # lazy: the measuring modules stay out of `svcprep --help`

    flags = parse_flags(fail_on)
    limits = Thresholds.from_assignments(parse_assignments(thresholds, "--set"))
    summary = write_report(path, out, thresholds=limits, trainer=trainer, with_pitch=pitch, with_dnsmos=dnsmos,
                           fail_on=flags, workers=workers, max_players=max_players)
    typer.echo(summary.describe())
    raise typer.Exit(summary.exit_code)
