"""``svcprep separate``: vocal separation and de-reverb over a corpus, the stage alone."""

from __future__ import annotations

from pathlib import Path

import typer

from svcprep.cli.common import reports_errors
from svcprep.cli.pipeline_cmds import (
    CORPUS_HELP,
    DEVICE_OPT,
    DTYPE_OPT,
    OVERWRITE_OPT,
    SHARD_OPT,
    parse_assignments,
    parse_shard,
)
from svcprep.corpus.separation import separation_from_config
from svcprep.errors import ConfigError
from svcprep.pipeline.separate_only import run_separation


def _steps(models: list[str], configs: list[str], keeps: list[str], also: list[str], num_overlap: int | None,
           batch_size: int | None) -> list[dict]:
    """One step per ``--model NAME=CKPT``, in order; the other flags name the step they apply to."""
    steps: dict[str, dict] = {}
    for item in models:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--model {item!r}: expected NAME=CKPT, e.g. vocals=bs_roformer_ep_317.ckpt")
        if name in steps:
            raise ConfigError(f"--model {name}: given twice; give each step its own name")
        steps[name] = {"model": path, "name": name}
    for flag, key, values in (("--config", "config", parse_assignments(configs, "--config")),
                              ("--keep", "keep", parse_assignments(keeps, "--keep"))):
        for name, value in values.items():
            if name not in steps:
                raise ConfigError(f"{flag} {name}=...: no --model {name}=CKPT")
            steps[name][key] = value
    for item in also:
        name, _, stem = item.partition("=")
        if name not in steps or not stem:
            raise ConfigError(f"--also {item!r}: expected NAME=STEM for a step given with --model NAME=CKPT")
        steps[name].setdefault("also", []).append(stem)
    for step in steps.values():
        if num_overlap is not None:
            step["num_overlap"] = num_overlap
        if batch_size is not None:
            step["batch_size"] = batch_size
    return list(steps.values())


@reports_errors
def separate(
    corpus: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output dir: OUT/<step>/<stem>/<uid>.wav (float32, the "
                             "model's rate and channels)."),
    models: list[str] = typer.Option(..., "--model", help="NAME=CKPT: a separator step (Music-Source-Separation-"
                                     "Training BS-RoFormer or Mel-Band RoFormer .ckpt). Repeat to chain steps in "
                                     "order: vocals, then karaoke, then de-reverb; each reads what the one before "
                                     "kept."),
    configs: list[str] = typer.Option([], "--config", help="NAME=YAML: the step's config (default: the .yaml "
                                      "beside its checkpoint)."),
    keeps: list[str] = typer.Option([], "--keep", help="NAME=STEM: what the step keeps for the next one: target "
                                    "(default; the config's target stem), residual (the mix minus it), or a stem."),
    also: list[str] = typer.Option([], "--also", help="NAME=STEM: also write this stem of the step (residual: the "
                                   "instrumental of a vocals model)."),
    num_overlap: int = typer.Option(None, "--num-overlap", min=1, help="Chunks per chunk length (default: the "
                                    "config's inference.num_overlap)."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Chunks per forward pass, from one or several "
                                   "tracks, 1-64 (default: the config's inference.batch_size)."),
    device: str = DEVICE_OPT,
    dtype: str = DTYPE_OPT,
    shard: str = SHARD_OPT,
    overwrite: bool = OVERWRITE_OPT,
) -> None:
    """Separate every track of CORPUS: vocals out of songs, lead out of vocals, reverb out of the lead. A track of
    any length streams through in chunks (memory does not grow with it); a rerun resumes; a track that cannot be
    separated is listed in OUT/_failures.jsonl and the others go on. The same steps as `separate:` in a run config
    write the same files, beside the trees, before slicing.

    Exit code: 0 all done, 1 some failed, 2 usage/config error (found before any audio is read)."""
    steps = separation_from_config(_steps(models, configs, keeps, also, num_overlap, batch_size), Path.cwd())
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ConfigError(f"expected float32, float16 or bfloat16, got {dtype!r}", "dtype")
    summary = run_separation(corpus, out, steps, device=device, precision=dtype, shard=parse_shard(shard),
                             overwrite=overwrite)
    typer.echo(summary.describe())
    if summary.failed:
        typer.echo(f"failures are listed in {out / '_failures.jsonl'}", err=True)
    raise typer.Exit(summary.exit_code)
