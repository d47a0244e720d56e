"""``svcprep pitch`` and ``svcprep stats``: F0/voicing on the mel grid, and Amphion's dataset statistics."""

from __future__ import annotations

from pathlib import Path

import typer

from svcprep.cli.common import reports_errors
from svcprep.cli.pipeline_cmds import (
    BACKEND_OPT,
    CORPUS_HELP,
    GPUS_PER_WORKER_OPT,
    OVERWRITE_OPT,
    PROFILE_OPT,
    RAY_ADDRESS_OPT,
    RAY_WORKERS_OPT,
    SHARD_OPT,
    WORKERS_OPT,
    _run,
    parse_shard,
    ray_options,
)
from svcprep.errors import ConfigError


@reports_errors
def pitch(
    corpus: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Output root: OUT/pitches/<uid>.npy and OUT/uvs/<uid>.npy."),
    preset: str = typer.Option("amphion-svc-24k", "--preset", "-p", help="Mel grid the pitch is sampled on."),
    method: str = typer.Option("parselmouth", "--method", help="parselmouth (Amphion's default), dio or harvest."),
    f0_min: float = typer.Option(50.0, "--f0-min", help="Lowest F0 searched, Hz."),
    f0_max: float = typer.Option(1100.0, "--f0-max", help="Highest F0 searched, Hz."),
    grid: str = typer.Option("exact", "--grid", help="exact: F0 at each mel frame's centre. amphion: Amphion's "
                             "own frames, end-padded/cut to the mel length (matches an existing Amphion dataset)."),
    num_workers: int | None = WORKERS_OPT,
    shard: str = SHARD_OPT,
    overwrite: bool = OVERWRITE_OPT,
    profile: bool = PROFILE_OPT,
    backend: str = BACKEND_OPT,
    ray_address: str = RAY_ADDRESS_OPT,
    workers: int = RAY_WORKERS_OPT,
    gpus_per_worker: float = GPUS_PER_WORKER_OPT,
) -> None:
    """F0 in Hz (0 = unvoiced, float32) and voicing (bool, True = voiced), one value per mel frame.

    The frame count is that of OUT/mels/<uid>.npy when present, otherwise the preset's. Needs the optional
    extra: pip install 'svcprep[pitch]'. Exit code: 0 all done, 1 some failed, 2 usage/config error.
    """
    from svcprep.pipeline.config import PipelineConfig
    from svcprep.pitch.settings import PitchSettings
    from svcprep.presets import load_preset

    settings = PitchSettings(method=method, f0_min=f0_min, f0_max=f0_max, grid=grid)
    _run(PipelineConfig(corpus=corpus, out=out, preset=load_preset(preset), write_mels=False, pitch=settings,
                        num_workers=num_workers, shard=parse_shard(shard), overwrite=overwrite, profile=profile,
                        ray=ray_options(backend, ray_address, workers, gpus_per_worker)), None)


@reports_errors
def stats(
    out: Path = typer.Argument(..., help="An output root with mels/ (and pitches/) of a whole corpus."),
    corpus: Path = typer.Option(None, "--corpus", help="The corpus (default: OUT itself, for an Amphion dataset "
                                "dir). Singers come from it."),
) -> None:
    """Write Amphion's dataset statistics: mel_min_max_stats/, pitches/statistics.json, singers.json, utt2singer.

    Run it once every shard has finished (svcprep run does it at the end when the corpus is complete).
    """
    from svcprep.pipeline.corpus import load_corpus
    from svcprep.pipeline.layout import MELS, PITCHES, OutputLayout
    from svcprep.pipeline.provenance import read_meta
    from svcprep.pipeline.stats import write_dataset_statistics
    from svcprep.presets import preset_from_dict

    layout = OutputLayout(out)
    meta = read_meta(layout, MELS)
    if not meta or "preset" not in meta:
        raise ConfigError(f"{layout.output_dir(MELS)}: no svcprep mels here; run `svcprep mel` or `svcprep run` "
                          "first", "out")
    recorded = dict(meta["preset"])
    preset = preset_from_dict(recorded.pop("name", "recorded"), recorded)
    source = load_corpus(corpus or out)
    report = write_dataset_statistics(out, source, preset, pitch=layout.output_dir(PITCHES).is_dir())
    typer.echo(report.describe())


@reports_errors
def verify(
    out: Path = typer.Argument(..., help="An output root (with mels/ and the features, pitch, energy made there)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a whole output dir: every uid with a mel has each file, rows equal mel frames (or cover them on the
    recorded native grid), widths/dtypes agree with the records, values are finite, uvs equal pitch != 0, done-lists
    match the files, statistics match the data. Exit code 0 when clean, 1 otherwise."""
    import json

    from svcprep.pipeline.verify import describe, verify_output_dir

    if not out.is_dir():
        raise ConfigError(f"{out}: not a directory", "out")
    checks = verify_output_dir(out)
    if not checks:
        raise ConfigError(f"{out}: no svcprep outputs here (no mels/ and nothing recorded in .svcprep/)", "out")
    clean = all(not c.problems for c in checks)
    if as_json:
        typer.echo(json.dumps({"clean": clean, "outputs": [c.to_dict() for c in checks]}, indent=2))
    else:
        typer.echo(describe(checks))
        typer.echo("clean" if clean else "problems found")
    raise typer.Exit(0 if clean else 1)


@reports_errors
def plot(
    out: Path = typer.Argument(..., help="An output root."),
    uid: str = typer.Argument(..., help="The utterance, as in OUT/mels/<uid>.npy."),
    image: Path = typer.Option(..., "--output", "-o", help="PNG file to write."),
    features: str = typer.Option(None, "--features", help="Comma-separated feature dirs (default: every aligned "
                                 "feature recorded in OUT)."),
) -> None:
    """Draw one utterance: mel spectrogram with the F0 contour, and each aligned feature's first principal
    components on the same frame axis with its native frame boundaries marked. Needs: pip install 'svcprep[plot]'."""
    from svcprep.plot import plot_utterance

    names = [f.strip() for f in features.split(",") if f.strip()] if features else None
    typer.echo(f"wrote {plot_utterance(out, uid, image, names)}")
