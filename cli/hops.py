"""``svcprep hops``: the exact source hop of a model against a mel grid."""

from __future__ import annotations

import json

import typer

from svcprep.align.grid import format_rate, grid_ratio, source_hop_in_target_samples
from svcprep.cli.common import reports_errors, source_grid, target_grid


@reports_errors
def hops(
    extractor: str = typer.Option(None, "--extractor", "-e", help="Registered extractor, e.g. whisper, encodec_24khz."),
    model: str = typer.Option(None, "--model", help="Model dir (only its config files are read), fairseq .pt, "
                              "Meta .th, or a hub id in the local cache."),
    source_hop: int = typer.Option(None, help="Hop of any other model, in samples at --source-sample-rate."),
    source_sample_rate: int = typer.Option(None, help="Sample rate of --source-hop."),
    preset: str = typer.Option(None, "--preset", "-p", help="Mel preset, e.g. amphion-svc-24k."),
    mel_sample_rate: int = typer.Option(None, help="Mel sample rate (instead of --preset)."),
    mel_hop: int = typer.Option(None, help="Mel hop in samples (instead of --preset)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Derive a model's frame hop from its metadata and relate it exactly to the mel grid.

    Example: svcprep hops -e encodec_24khz -p amphion-svc-24k
    """
    name, source, derivation = source_grid(extractor, model, source_hop, source_sample_rate)
    target, _ = target_grid(preset, mel_sample_rate, mel_hop)
    ratio = grid_ratio(source, target).ratio
    hop_in_target = source_hop_in_target_samples(source, target)
    if as_json:
        typer.echo(json.dumps({
            "extractor": name,
            "source_sample_rate": source.sample_rate,
            "source_hop": source.hop_length,
            "source_frame_rate": float(source.frame_rate),
            "target_sample_rate": target.sample_rate,
            "target_hop": target.hop_length,
            "target_frame_rate": float(target.frame_rate),
            "source_hop_in_target_samples": float(hop_in_target),
            "ratio": f"{ratio.numerator}/{ratio.denominator}",
        }))
        return
    mel = f"mel {target.sample_rate}/{target.hop_length} = {format_rate(target.frame_rate)} Hz"
    if hop_in_target.denominator == 1:
        rel = f"ratio {hop_in_target.numerator}:{target.hop_length} = {ratio.numerator}:{ratio.denominator}"
    else:
        rel = (f"source hop = {float(hop_in_target):.4f} target samples; "
               f"ratio {ratio.numerator}:{ratio.denominator}")
    typer.echo(f"{derivation}; {mel}; {rel}")
    typer.echo(f"one source frame = {ratio.numerator}/{ratio.denominator} mel frames "
               f"(Amphion: source_hop={ratio.numerator}, target_hop={ratio.denominator} in a common unit)")
