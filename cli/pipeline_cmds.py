"""``svcprep mel``, ``svcprep extract`` and ``svcprep run``: the corpus pipeline from the command line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from svcprep.audio.presets import load_preset
from svcprep.cli.common import reports_errors
from svcprep.errors import ConfigError
from svcprep.extractors.registry import get_entry
from svcprep.pipeline.config import RUN_KEYS, RunConfig, read_run_config, run_config_from_files
from svcprep.pipeline.ray_backend import RayOptions
from svcprep.pipeline.runner import run_pipeline
from svcprep.pipeline.workers import exit_with_parent
from svcprep.recipes import RECIPES, builtin_configs
from svcprep.recipes.amphion import AmphionRecipe
from svcprep.recipes.settings import ExtractorConfig

CORPUS_HELP = "Audio dir (recursive), Amphion dataset dir (train.json/test.json), or a .jsonl/.csv manifest."


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected K/N, e.g. 0/4") from None
    if not 0 <= k < n:
        raise ConfigError(f"--shard {text}: need 0 <= K < N (K counts from 0)")
    return k, n


def parse_assignments(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def parse_options(items: list[str]) -> dict[str, dict]:
    """``--set whisper.layer=12`` → ``{"whisper": {"layer": 12}}`` (values parsed as YAML scalars). NAME is an
    extractor, ``pitch``, ``slice`` or a recipe (``rvc.sample_rate=48000``)."""
    import yaml

    options: dict[str, dict] = {}
    for key, value in parse_assignments(items, "--set").items():
        name, dot, option = key.partition(".")
        if not dot:
            raise ConfigError(f"--set {key}: expected NAME.OPTION=VALUE, e.g. contentvec.layer=9 or pitch.method=fcpe")
        options.setdefault(name, {})[option] = scalar(yaml.safe_load(value))
    return options


def scalar(value: Any) -> Any:
    """A ``--set`` value as YAML read it, with a number written with an exponent (``1e-3``, which YAML 1.1 reads
    as text) taken as the number it is."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def device_commands(argv: list[str], devices: str, shard: tuple[int, int]) -> list[list[str]]:
    """One command per GPU: this command again, on sub-shard ``K*D + j`` of ``N*D`` and device ``cuda:j``."""
    ids = [d.strip() for d in devices.split(",") if d.strip()]
    if not ids:
        raise ConfigError("--devices: expected GPU ids such as 0,1")
    args = list(argv)
    for flag in ("--devices", "--shard", "--device"):
        while flag in args:
            i = args.index(flag)
            del args[i : i + 2]
    k, n = shard
    return [[sys.executable, "-m", "svcprep", *args, "--shard", f"{k * len(ids) + j}/{n * len(ids)}",
             "--device", f"cuda:{device}"] for j, device in enumerate(ids)]


def check_devices(devices: str) -> None:
    import torch

    ids = [d.strip() for d in devices.split(",") if d.strip()]
    if not ids or not all(d.isdigit() for d in ids):
        raise ConfigError(f"expected GPU ids such as 0,1, got {devices!r}", "devices")
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if any(int(d) >= visible for d in ids):
        raise ConfigError(f"GPU(s) {devices} requested, torch sees {visible} usable CUDA GPU(s)", "devices")


def run_on_devices(devices: str, shard: tuple[int, int]) -> int:
    """Run this command once per GPU, each on a disjoint sub-shard; returns the worst exit code."""

    check_devices(devices)
    commands = device_commands(sys.argv[1:], devices, shard)
    procs = []
    for cmd in commands:
        typer.echo(f"{cmd[-1]}: shard {cmd[-3]}")
        procs.append(subprocess.Popen(cmd, preexec_fn=exit_with_parent))
    return max(p.wait() for p in procs)


def extractor_configs(names: list[str], models: list[str], settings: list[str], trust_remote_code: bool) -> list:
    """``-e``/``--model``/``--set``/``--trust-remote-code`` to extractor configs (options checked there)."""

    model_map = parse_assignments(models, "--model")
    options = parse_options(settings)
    unknown = sorted((set(model_map) | set(options)) - set(names))
    if unknown:
        raise ConfigError(f"--model/--set name extractors not requested with -e: {', '.join(unknown)}")
    takers = [name for name in names if get_entry(name).takes_trust_remote_code]
    if trust_remote_code and not takers:
        raise ConfigError("--trust-remote-code: none of the requested extractors runs custom model code (only mert)")
    configs = []
    for name in names:
        opts = dict(options.get(name, {}))
        if trust_remote_code and name in takers:
            opts["trust_remote_code"] = True
        configs.append(ExtractorConfig(name, model_map.get(name), opts))
    return configs


def execute(config, devices: str | None) -> None:
    if devices:
        raise typer.Exit(run_on_devices(devices, config.shard))
    summary = run_pipeline(config)
    typer.echo(summary.describe())
    typer.echo(f"outputs in {summary.out}")
    if summary.failed:
        typer.echo(f"failures are listed in {summary.out}/**/_failures.jsonl"
                   if len(config.recipes) > 1 else f"failures are listed in {summary.out / '_failures.jsonl'}",
                   err=True)
    raise typer.Exit(summary.exit_code)


def run_config(corpus: Path, out: Path | None, recipe, **execution):
    """A one-recipe run of the Amphion layout (``mel``, ``pitch``, ``extract``)."""

    return RunConfig(corpus=corpus, out=out, recipes=(recipe,), **execution)


SHARD_OPT = typer.Option("0/1", "--shard", help="Process shard K of N (K from 0; stable hash of the uid).")
OVERWRITE_OPT = typer.Option(False, "--overwrite", help="Redo outputs made with other settings.")
WORKERS_OPT = typer.Option(None, "--num-workers", min=0, max=64, help="Decode worker processes (0: decode "
                           "in-process). Default by device: CPU with a model 0 (the model takes every core), GPU "
                           "or no model: the cores but one (at most 8).")
BACKEND_OPT = typer.Option("local", "--backend", help="local, or ray (extra 'ray'): decode as Ray tasks, models "
                           "in a Ray actor pool, the same files.")
RAY_ADDRESS_OPT = typer.Option(None, "--ray-address", help="Ray cluster address (default: start a local cluster).")
RAY_WORKERS_OPT = typer.Option(1, "--workers", min=1, help="Ray model actors (--backend ray).")
GPUS_PER_WORKER_OPT = typer.Option(0.0, "--gpus-per-worker", min=0.0, help="GPUs per Ray model actor, e.g. 0.5 "
                                   "(--backend ray).")
DEVICE_OPT = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N.")
DEVICES_OPT = typer.Option(None, "--devices", help="GPU ids, e.g. 0,1: one worker process per GPU.")
DTYPE_OPT = typer.Option("float32", "--dtype", help="Model dtype: float32, float16, bfloat16.")
STREAM_OPT = typer.Option(600.0, "--stream-seconds", min=0.0, help="A file longer than this is computed a window "
                          "at a time, its outputs written piece by piece: memory stays flat whatever its length.")
BATCH_OPT = typer.Option(None, "--batch-seconds", help="Audio seconds per model batch (0: one file per call). "
                         "Default by device: CPU one file per call; GPU as much as half the free memory holds.")


def ray_options(backend: str, address: str | None, workers: int, gpus_per_worker: float):
    """``RayOptions`` for ``--backend ray``, ``None`` for local; Ray flags without it are a usage error."""
    if backend == "local":
        if address or workers != 1 or gpus_per_worker:
            raise ConfigError("--ray-address, --workers and --gpus-per-worker need --backend ray", "backend")
        return None
    if backend != "ray":
        raise ConfigError(f"must be local or ray, got {backend!r}", "backend")
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ConfigError("--backend ray needs the optional extra: pip install 'svcprep[ray]'", "backend") from exc

    return RayOptions(address=address, workers=workers, gpus_per_worker=gpus_per_worker)


PROFILE_OPT = typer.Option(False, "--profile", help="Print where the wall time went (scan, decode, resample, mel, "
                           "pitch, model, align, write, waiting for input).")


@reports_errors
def mel(
    corpus: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Output root; mels go to OUT/mels/<uid>.npy."),
    preset: str = typer.Option("amphion-svc-24k", "--preset", "-p", help="Mel preset name or YAML path."),
    energy: bool = typer.Option(False, "--energy", help="Also OUT/energys/<uid>.npy: sqrt(sum(exp(mel)**2)) "
                                "per frame, Amphion's from_mel."),
    num_workers: int | None = WORKERS_OPT,
    stream_seconds: float = STREAM_OPT,
    shard: str = SHARD_OPT,
    overwrite: bool = OVERWRITE_OPT,
    profile: bool = PROFILE_OPT,
) -> None:
    """Compute Amphion-compatible log-mels (any input rate/channels: downmixed, resampled with soxr)."""

    recipe = AmphionRecipe(preset=load_preset(preset), mels=True, energy=energy)
    execute(run_config(corpus, out, recipe, num_workers=num_workers, shard=parse_shard(shard), overwrite=overwrite,
                       profile=profile, stream_seconds=stream_seconds), None)


@reports_errors
def extract(
    corpus: Path = typer.Argument(..., help=CORPUS_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Output root: OUT/<feature>/<uid>.npy, (T, D)."),
    extractors: list[str] = typer.Option(..., "--extractor", "-e", help="Extractor name; repeat for several."),
    models: list[str] = typer.Option([], "--model", help="NAME=PATH_OR_HUB_ID (default: the published model)."),
    settings: list[str] = typer.Option([], "--set", help="Option, e.g. contentvec.layer=9."),
    preset: str = typer.Option("amphion-svc-24k", "--preset", "-p", help="Mel grid the features are aligned to."),
    device: str = DEVICE_OPT,
    devices: str = DEVICES_OPT,
    dtype: str = DTYPE_OPT,
    batch_seconds: float = BATCH_OPT,
    num_workers: int | None = WORKERS_OPT,
    method: str = typer.Option("area", "--method", help="area (Amphion), nearest, linear, repeat."),
    tolerance: int = typer.Option(4, "--tolerance", min=0, help="Frames of mismatch accepted."),
    stream_seconds: float = STREAM_OPT,
    shard: str = SHARD_OPT,
    keep_native: bool = typer.Option(False, "--keep-native", help="Also keep OUT/<feature>_native/."),
    save_dtype: str = typer.Option("float32", "--save-dtype", help="float32 or float16 on disk."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow model code (MERT)."),
    overwrite: bool = OVERWRITE_OPT,
    profile: bool = PROFILE_OPT,
    backend: str = BACKEND_OPT,
    ray_address: str = RAY_ADDRESS_OPT,
    workers: int = RAY_WORKERS_OPT,
    gpus_per_worker: float = GPUS_PER_WORKER_OPT,
) -> None:
    """Extract content features and align them to the mel frame count of each file.

    Mels are read from OUT/mels when present (their frame count is the target), otherwise the count comes from
    the preset. Reruns skip finished files; a bad file is logged in OUT/_failures.jsonl and the run goes on.
    Exit code: 0 all done, 1 some failed, 2 usage/config error.
    """

    configs = extractor_configs(extractors, models, settings, trust_remote_code)
    recipe = AmphionRecipe(preset=load_preset(preset), mels=False, extractors=tuple(configs), method=method,
                           tolerance=tolerance, keep_native=keep_native, save_dtype=save_dtype)
    config = run_config(corpus, out, recipe, device=device, dtype=dtype, batch_seconds=batch_seconds,
                        num_workers=num_workers, shard=parse_shard(shard), overwrite=overwrite, profile=profile,
                        ray=ray_options(backend, ray_address, workers, gpus_per_worker), stream_seconds=stream_seconds)
    execute(config, devices)


@reports_errors
def run(
    configs: list[str] = typer.Option(..., "--config", "-c", help=f"Run config YAML, or a built-in name "
                                      f"({', '.join(builtin_configs())}). Repeat to write several projects' trees "
                                      "in one pass (each under OUT/<config name>/)."),
    corpus: Path = typer.Option(None, "--corpus", help="Overrides the config's corpus."),
    out: Path = typer.Option(None, "--out", "-o", help="Overrides the config's out."),
    models: list[str] = typer.Option([], "--model", help="NAME=PATH_OR_HUB_ID: an extractor's model, or a pitch "
                                     "tracker's checkpoint (rmvpe=rmvpe.pt, fcpe=...)."),
    settings: list[str] = typer.Option([], "--set", help="NAME.KEY=VALUE: an extractor option "
                                       "(contentvec.layer=9), pitch.method=fcpe, pitch.threshold=0.05, "
                                       "slice.threshold_db=-40, or a recipe setting (rvc.sample_rate=48000)."),
    device: str = typer.Option(None, "--device", help="Overrides the config's device."),
    devices: str = DEVICES_OPT,
    shard: str = SHARD_OPT,
    overwrite: bool = OVERWRITE_OPT,
    profile: bool = PROFILE_OPT,
    backend: str = BACKEND_OPT,
    ray_address: str = RAY_ADDRESS_OPT,
    workers: int = RAY_WORKERS_OPT,
    gpus_per_worker: float = GPUS_PER_WORKER_OPT,
) -> None:
    """Everything a project's training reads, in one pass over the corpus: each config names a recipe
    (`recipe:` {recipes}) and its settings; several configs share one decode of each file and one forward pass
    per model. Run keys ({run_keys}) may sit in any config; the command line overrides them.

    Exit code: 0 all done, 1 some failed, 2 usage/config error (found before any model loads)."""

    files = [read_run_config(name) for name in configs]
    model_map = {k: str(Path(v).expanduser().resolve()) if Path(v).expanduser().exists() else v
                 for k, v in parse_assignments(models, "--model").items()}
    try:
        pipeline_config = run_config_from_files(
            files, model_paths=model_map, options=parse_options(settings), corpus=corpus, out=out, device=device,
            shard=parse_shard(shard), overwrite=overwrite or None, profile=profile or None,
            ray=ray_options(backend, ray_address, workers, gpus_per_worker))
    except ConfigError as exc:
        if exc.parameter is None:
            raise
        raise ConfigError(f"run config {', '.join(configs)}: {exc}") from None
    execute(pipeline_config, devices)


run.__doc__ = run.__doc__.replace("{recipes}", ", ".join(RECIPES)).replace("{run_keys}", ", ".join(RUN_KEYS))
