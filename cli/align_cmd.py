"""``svcprep align``: align existing feature files to existing mels."""

from __future__ import annotations

from pathlib import Path

import typer

from svcprep.align.methods import METHODS
from svcprep.cli.common import EXIT_USAGE, fail, reports_errors, source_grid, target_grid
from svcprep.pipeline.align_dir import align_directory, feature_uids


@reports_errors
def align(
    features: Path = typer.Option(..., "--features", help="Dir of <uid>.npy features (T, D), searched recursively."),
    mels: Path = typer.Option(..., "--mels", help="Dir of <uid>.npy mels; only their headers are read."),
    out: Path = typer.Option(..., "--out", help="Where aligned <uid>.npy files (T_mel, D) are written."),
    extractor: str = typer.Option(None, "--extractor", "-e", help="Extractor that made the features."),
    model: str = typer.Option(None, "--model", help="Model dir, .pt or .th whose config gives the grid."),
    source_hop: int = typer.Option(None, help="Feature hop in samples (instead of --extractor)."),
    source_sample_rate: int = typer.Option(None, help="Sample rate of --source-hop."),
    preset: str = typer.Option(None, "--preset", "-p", help="Mel preset (grid and mel layout)."),
    mel_sample_rate: int = typer.Option(None, help="Mel sample rate (instead of --preset; layout (n_mels, T))."),
    mel_hop: int = typer.Option(None, help="Mel hop in samples (instead of --preset)."),
    method: str = typer.Option("area", help="area (Amphion), nearest (DDSP-SVC), linear, repeat (so-vits-svc)."),
    tolerance: int = typer.Option(4, min=0, help="Frames of length mismatch accepted (the last frame is repeated)."),
) -> None:
    """Align every feature file under --features to the frame count of the mel with the same uid.

    Writes are atomic; files already in --out are skipped, so a rerun resumes. A file that fails is recorded in
    --out/_failures.jsonl and the run goes on. Exit code: 0 all done, 1 some failed, 2 usage error.
    """
    from tqdm import tqdm


    if method not in METHODS:
        raise fail(f"--method must be one of {', '.join(METHODS)}")
    if not features.is_dir():
        raise fail(f"--features {features}: not a directory", EXIT_USAGE)
    if not mels.is_dir():
        raise fail(f"--mels {mels}: not a directory", EXIT_USAGE)
    _, source, derivation = source_grid(extractor, model, source_hop, source_sample_rate)
    target, time_axis = target_grid(preset, mel_sample_rate, mel_hop)
    uids = feature_uids(features)
    total = len(uids)
    typer.echo(f"aligning {total} files: {derivation} → mel {target.sample_rate}/{target.hop_length}, method {method}")
    with tqdm(total=total, unit="file", disable=None) as bar:
        summary = align_directory(
            features, mels, out, source=source, target=target, mel_time_axis=time_axis,
            method=method, tolerance=tolerance, on_progress=lambda _uid: bar.update(1), uids=uids,
        )
    typer.echo(f"done {summary.done}, skipped {summary.skipped} (already aligned), failed {summary.failed}")
    for record in summary.failures[:10]:
        typer.echo(f"  failed {record['path']}: {record['reason']}", err=True)
    if summary.failed:
        typer.echo(f"failures are listed in {out / '_failures.jsonl'}", err=True)
    raise typer.Exit(summary.exit_code)
