"""``svcprep pitch``, ``stats``, ``verify``, ``plot`` and ``slice``: F0 on the mel grid, Amphion's statistics, checks
of a finished output root, a picture of one utterance, and long takes cut into pieces."""

from __future__ import annotations

from pathlib import Path

import typer

from svcprep.audio.presets import load_preset, preset_from_dict
from svcprep.audio.slicing import slice_settings_from
from svcprep.cli.common import reports_errors
from svcprep.cli.pipeline_cmds import (
    BACKEND_OPT,
    BATCH_OPT,
    CORPUS_HELP,
    DEVICE_OPT,
    DTYPE_OPT,
    GPUS_PER_WORKER_OPT,
    OVERWRITE_OPT,
    PROFILE_OPT,
    RAY_ADDRESS_OPT,
    RAY_WORKERS_OPT,
    SHARD_OPT,
    STREAM_OPT,
    WORKERS_OPT,
    execute,
    parse_options,
    parse_shard,
    ray_options,
    run_config,
)
from svcprep.corpus.scan import load_corpus
from svcprep.corpus.slicing import SliceStage
from svcprep.corpus.stages import StageChain
from svcprep.errors import ConfigError
from svcprep.pitch.registry import TRACKERS
from svcprep.pitch.settings import PitchSettings
from svcprep.plot import plot_utterance
from svcprep.recipes.amphion import MELS, PITCHES, AmphionRecipe
from svcprep.recipes.amphion_files import write_statistics
from svcprep.recipes.pieces import PiecesRecipe
from svcprep.store.tree import OutputTree
from svcprep.verify import describe, verify_root


@reports_errors
def pitch(
    corpus: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Output root: OUT/pitches/<uid>.npy and OUT/uvs/<uid>.npy."),
    preset: str = typer.Option("amphion-svc-24k", "--preset", "-p", help="Mel grid the pitch is sampled on."),
    method: str = typer.Option("parselmouth", "--method", help="parselmouth (Amphion's default), dio, harvest (CPU, "
                               "in the decode workers), or fcpe, rmvpe (neural, batched on --device)."),
    model: str = typer.Option(None, "--model", help="Neural tracker checkpoint: rmvpe.pt (RVC's plain state dict "
                              "or the {'model': ...} form of so-vits-svc / DDSP-SVC); for fcpe the default is the "
                              "checkpoint the torchfcpe package ships."),
    threshold: float = typer.Option(None, "--threshold", help="Voicing threshold on the peak salience (fcpe 0.006, "
                                    "rmvpe 0.03 by default; so-vits-svc uses 0.05)."),
    f0_min: float = typer.Option(50.0, "--f0-min", help="Lowest F0 searched, Hz (CPU methods)."),
    f0_max: float = typer.Option(1100.0, "--f0-max", help="Highest F0 searched, Hz (CPU methods)."),
    grid: str = typer.Option("exact", "--grid", help="exact: F0 at each mel frame's centre. amphion: Amphion's "
                             "own frames, end-padded/cut to the mel length (matches an existing Amphion dataset)."),
    device: str = DEVICE_OPT,
    dtype: str = DTYPE_OPT,
    batch_seconds: float = BATCH_OPT,
    num_workers: int | None = WORKERS_OPT,
    stream_seconds: float = STREAM_OPT,
    shard: str = SHARD_OPT,
    overwrite: bool = OVERWRITE_OPT,
    profile: bool = PROFILE_OPT,
    backend: str = BACKEND_OPT,
    ray_address: str = RAY_ADDRESS_OPT,
    workers: int = RAY_WORKERS_OPT,
    gpus_per_worker: float = GPUS_PER_WORKER_OPT,
) -> None:
    """F0 in Hz (0 = unvoiced, float32) and voicing (bool, True = voiced), one value per mel frame.

    The frame count is that of OUT/mels/<uid>.npy when present, otherwise the preset's. CPU methods need the
    optional extra: pip install 'svcprep[pitch]'. Exit code: 0 all done, 1 some failed, 2 usage/config error.
    """

    if model is not None:  # NAME=PATH as `run` takes it, or the path alone
        name, equals, path = model.partition("=")
        if equals and name in TRACKERS:
            if name != method:
                raise ConfigError(f"--model {model}: a {name} checkpoint, but --method is {method}", "model")
            model = path
    settings = PitchSettings(method=method, f0_min=f0_min, f0_max=f0_max, grid=grid, threshold=threshold,
                             model=str(Path(model).expanduser().resolve()) if model else None)
    recipe = AmphionRecipe(preset=load_preset(preset), mels=False, pitch=settings)
    execute(run_config(corpus, out, recipe, device=device, dtype=dtype, batch_seconds=batch_seconds,
                       num_workers=num_workers, shard=parse_shard(shard), overwrite=overwrite, profile=profile,
                       ray=ray_options(backend, ray_address, workers, gpus_per_worker), stream_seconds=stream_seconds),
            None)


@reports_errors
def stats(
    out: Path = typer.Argument(..., help="An output root with mels/ (and pitches/) of a whole corpus."),
    corpus: Path = typer.Option(None, "--corpus", help="The corpus (default: OUT itself, for an Amphion dataset "
                                "dir). Singers come from it."),
) -> None:
    """Write Amphion's dataset statistics: mel_min_max_stats/, pitches/statistics.json, singers.json, utt2singer.

    Run it once every shard has finished (svcprep run does it at the end when the corpus is complete).
    """

    tree = OutputTree.open(out)
    record = tree.bookkeeping.read_record(MELS)
    if record is None or "preset" not in record.settings:
        raise ConfigError(f"{out / MELS}: no svcprep mels here; run `svcprep mel` or `svcprep run` first", "out")
    recorded = dict(record.settings["preset"])
    preset = preset_from_dict(recorded.pop("name", "recorded"), recorded)
    source = load_corpus(corpus or out)
    report = write_statistics(tree, source, preset, pitch=tree.bookkeeping.read_record(PITCHES) is not None)
    typer.echo(report.describe())


@reports_errors
def verify(
    out: Path = typer.Argument(..., help="An output root (any recipe's), or a dir holding several (OUT/<config>/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    hashes: bool = typer.Option(True, "--hashes/--no-hashes", help="Compare every file with the sha256 recorded "
                                "when it was written (reads every byte)."),
) -> None:
    """Check a whole output root: every recorded output has its record; every uid finished under the current
    settings has each file, unchanged since it was written (sha256), readable, with the recorded dtype; rows
    equal the expected frame count (or cover it on the recorded native grid); values are finite and plausible
    (no all-zero feature, F0 within the audible range, voicing equal to F0 != 0); no file is left from other
    settings; statistics, file lists and config fragments agree with the data. Exit code 0 when clean, 1
    otherwise."""
    import json


    if not out.is_dir():
        raise ConfigError(f"{out}: not a directory", "out")
    checks = verify_root(out, check_hashes=hashes)
    if not checks:
        raise ConfigError(f"{out}: no svcprep outputs here (nothing recorded in .svcprep/)", "out")
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
    """Draw one utterance: mel spectrogram above an F0 panel (Hz, log scale), and each aligned feature's first
    principal components on the same frame axis with its native frame boundaries marked.
    Needs: pip install 'svcprep\\[plot]'."""

    names = [f.strip() for f in features.split(",") if f.strip()] if features else None
    typer.echo(f"wrote {plot_utterance(out, uid, image, names)}")


@reports_errors
def slice_takes(
    corpus: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Where the pieces (OUT/<take uid>/<k>.wav) and "
                             "OUT/pieces.jsonl go."),
    preset: str = typer.Option("openvpi", "--preset", "-p", help="rvc (RVC's slicer, 3.7 s pieces with 0.3 s "
                               "overlap, 48 Hz high-pass) or openvpi (silences only, pieces of 5 s or more)."),
    settings: list[str] = typer.Option([], "--set", help="slice.KEY=VALUE, e.g. slice.threshold_db=-45, "
                                       "slice.piece_seconds=10, slice.sample_rate=44100."),
    num_workers: int | None = WORKERS_OPT,
    shard: str = SHARD_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Cut long takes at their silences into pieces, written as float WAVs with a manifest
    (uid, path, singer, dataset, source, start, end) that every svcprep command reads as a corpus. A rerun skips
    finished takes. Exit code: 0 all done, 1 some failed, 2 usage/config error."""

    options = parse_options(settings)
    unknown = sorted(set(options) - {"slice"})
    if unknown:
        raise ConfigError(f"--set {', '.join(unknown)}: only slice.KEY=VALUE applies here")
    slicing = slice_settings_from(preset, options.get("slice", {}))
    execute(run_config(corpus, out, PiecesRecipe(slicing.sample_rate), num_workers=num_workers,
                       shard=parse_shard(shard), overwrite=overwrite, stages=StageChain((SliceStage(slicing),))),
            None)
