"""``make demo``: generate a small singing corpus and tiny models, run the whole pipeline, check the outputs.

Everything is local: the models have RANDOM weights (their features mean nothing), but their file formats,
configs and frame grids are the real ones, so the run exercises exactly the code a real run uses.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import yaml

from svcprep.align.grid import format_rate, grid_ratio
from svcprep.audio.presets import load_preset
from svcprep.demo import tiny_models
from svcprep.demo.synthetic import known_pitch_clip, song, write_corpus
from svcprep.extractors.base import quiet_transformers
from svcprep.extractors.registry import ENTRIES, spec_for
from svcprep.pipeline.config import read_run_config, run_config_from_files
from svcprep.pipeline.runner import run_pipeline
from svcprep.report.flags import Thresholds
from svcprep.report.run import write_report
from svcprep.verify import describe, verify_root


def print_hops(preset_name: str) -> None:
    preset = load_preset(preset_name)
    print(f"Frame grids against {preset_name} (mel {preset.sample_rate}/{preset.hop_length} = "
          f"{format_rate(preset.grid.frame_rate)} Hz), from the published configs:")
    for name in ENTRIES:
        spec = spec_for(name)
        r = grid_ratio(spec.grid, preset.grid)
        print(f"  {spec.describe():<78} ratio {r.source_units}:{r.target_units}")


def build(out: Path) -> Path:
    """Write corpus, tiny models and a run config under ``out``; return the config path."""

    corpus, models = out / "corpus", out / "models"
    write_corpus(corpus)
    write_takes(out / "takes")
    write_songs(out / "songs")
    tiny_models.save_separator(models / "separator" / "vocals.ckpt")
    tiny_models.save_whisper(models / "whisper")
    tiny_models.save_fairseq_contentvec(models / "contentvec_fairseq.pt")
    # 768 wide (what so-vits-svc's vec768l12, DDSP-SVC and RVC v2 read), 256-d final_proj; 2 layers only.
    tiny_models.save_fairseq_contentvec(models / "contentvec_768.pt", hidden_size=768, proj_dim=256)
    tiny_models.save_rmvpe(models / "rmvpe.pt")
    tiny_models.save_encodec(models / "encodec_24khz")
    config = {
        "recipe": "amphion", "corpus": "corpus", "out": "processed", "preset": "amphion-svc-24k", "mels": True,
        "energy": True, "pitch": {"method": "parselmouth", "grid": "exact"}, "stats": True, "keep_native": True,
        "amphion": True,
        "extractors": [
            {"name": "whisper", "model": "models/whisper"},
            {"name": "contentvec", "model": "models/contentvec_fairseq.pt", "options": {"layer": 2, "proj": True}},
            {"name": "encodec_24khz", "model": "models/encodec_24khz", "feature_name": "encodec"},
        ],
    }
    path = out / "demo_run.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    write_amphion_dataset(out / "amphion" / "opencpop", corpus)
    return path


def write_takes(root: Path) -> None:
    """One long raw take (25 s, two pauses) for the slicing and RVC examples."""
    import soundfile as sf


    (root / "singer_a").mkdir(parents=True, exist_ok=True)
    sf.write(root / "singer_a" / "take_01.wav", known_pitch_clip(44100, 25.0, ((8.0, 9.0), (16.0, 17.2)), seed=7),
             44100)


def write_songs(root: Path) -> None:
    """Two short songs (voice over an accompaniment) for the separation examples: 44.1 kHz stereo and 48 kHz."""
    import soundfile as sf

    (root / "singer_a").mkdir(parents=True, exist_ok=True)
    sf.write(root / "singer_a" / "song_01.wav", song(9.0, 44100, seed=11), 44100)
    sf.write(root / "singer_a" / "song_02.flac", song(6.0, 48000, seed=12), 48000)


SONGS_CONFIG = """\
# Songs in: the voice taken out of each mix by a separator (the demo's is a tiny random one: its "vocals" mean
# nothing), then RVC's preprocessing of what it kept. The instrumental (residual) is written beside the tree.
recipe: rvc
separate:
  - model: models/separator/vocals.ckpt   # its config: models/separator/vocals.yaml
    keep: target
    also: [residual]
"""


FORK_CONFIG = """\
# so-vits-svc-fork from the long take, cut into pieces first (the fork's split needs 5 clips per speaker).
recipe: so-vits-svc-fork
slice: {preset: openvpi, piece_seconds: 4.0, min_piece_seconds: 1.0}
"""


def write_amphion_dataset(root: Path, corpus: Path) -> None:
    """An Amphion-style dataset dir over the demo corpus (train.json / test.json), for the guide's examples."""
    import json

    items = [{"Dataset": root.name, "Singer": path.parent.name, "Uid": f"{path.parent.name}_{path.stem}",
              "Path": str(path.resolve()), "Duration": 0.0}
             for path in sorted(p for p in corpus.rglob("*") if p.is_file())]
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.json").write_text(json.dumps(items[:-1], indent=1))
    (root / "test.json").write_text(json.dumps(items[-1:], indent=1))


def check(processed: Path, features: list[str], time_axis: int) -> int:
    """Every feature file has exactly as many rows as its mel has frames; returns the file count."""
    count = 0
    for mel_path in sorted((processed / "mels").rglob("*.npy")):
        uid = mel_path.relative_to(processed / "mels").with_suffix("").as_posix()
        frames = np.load(mel_path, mmap_mode="r").shape[time_axis]
        for feature in features:
            rows = np.load(processed / feature / f"{uid}.npy", mmap_mode="r").shape[0]
            if rows != frames:
                raise SystemExit(f"demo check failed: {feature}/{uid} has {rows} rows, mel has {frames} frames")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    args = parser.parse_args(argv)

    quiet_transformers()
    print_hops("amphion-svc-24k")
    if args.out.exists():
        shutil.rmtree(args.out)
    config_path = build(args.out)
    print(f"\nDemo corpus: 6 sung phrases (16-48 kHz, mono and stereo, 0.8-5.1 s) in {args.out / 'corpus'}, a "
          f"25 s take in {args.out / 'takes'}, 2 songs (voice over an accompaniment) in {args.out / 'songs'}")
    print("Demo models: tiny RANDOM-weight Whisper (HF dir), ContentVec (fairseq .pt), Encodec (HF dir), RMVPE, "
          "BS-RoFormer separator (.ckpt + YAML): real formats and frame grids, meaningless features.\n")

    config = run_config_from_files([read_run_config(str(config_path))], model_paths={}, options={})
    summary = run_pipeline(config)
    print(summary.describe())
    recipe = config.recipes[0]
    features = [e.out_name for e in recipe.extractors] + ["pitches", "uvs", "energys"]
    checked = check(config.out, features, recipe.preset.time_axis)
    print(f"checked {checked} files: row counts equal the mel frame counts for every uid")
    print(f"outputs: {config.out}/{{mels,{','.join(features)}}}/<uid>.npy   (run config: {config_path})")
    worst = max(summary.exit_code, run_trainer_recipes(args.out))
    return max(worst, write_reports(args.out))


def write_reports(out: Path) -> int:
    """The data report of the corpus (before) and of RVC's sliced pieces (after, with RVC's own limits)."""
    worst = 0
    for source, target in ((out / "corpus", out / "report"), (out / "trainers" / "rvc", out / "report_rvc")):
        print(f"\nreport: {source} -> {target}")
        summary = write_report(source, target, thresholds=Thresholds())
        print(summary.describe())
        worst = max(worst, summary.exit_code)
    return worst


def run_trainer_recipes(out: Path) -> int:
    """so-vits-svc 4.1 and DDSP-SVC trees in one pass over the corpus, RIFT-SVC's from it too, RVC's, Applio's,
    so-vits-svc-fork's and Seed-VC's from the long take (sliced), RVC's and so-vits-svc's from two songs (their
    voice separated first), each checked by ``verify``; returns the worst exit code."""

    models = {"contentvec": str(out / "models" / "contentvec_768.pt"), "rmvpe": str(out / "models" / "rmvpe.pt")}
    options = {"contentvec": {"layer": 2}}  # the demo ContentVec has 2 layers; real ones use the recipe's layer
    worst = 0
    (out / "songs_rvc.yaml").write_text(SONGS_CONFIG, encoding="utf-8")
    (out / "fork.yaml").write_text(FORK_CONFIG, encoding="utf-8")
    for names, corpus, target in ((("so-vits-svc", "ddsp-svc"), out / "corpus", out / "trainers"),
                                  (("rift-svc",), out / "corpus", out / "trainers" / "rift-svc"),
                                  (("rvc",), out / "takes", out / "trainers" / "rvc"),
                                  (("applio",), out / "takes", out / "trainers" / "applio"),
                                  ((str(out / "fork.yaml"),), out / "takes", out / "trainers" / "so-vits-svc-fork"),
                                  (("seed-vc",), out / "takes", out / "trainers" / "seed-vc"),
                                  ((str(out / "songs_rvc.yaml"), "so-vits-svc"), out / "songs",
                                   out / "trainers" / "songs")):
        print(f"\n{' + '.join(Path(n).stem for n in names)}: {corpus} -> {target}")
        files = [read_run_config(name) for name in names]
        recipes = {data.get("recipe") for data, _, _ in files}
        tracks_with_rmvpe = bool(recipes - {"so-vits-svc-fork", "seed-vc"})  # the fork's F0 is DIO
        with_models = recipes != {"seed-vc"}  # Seed-VC takes clips only
        config = run_config_from_files(files, model_paths=(models if tracks_with_rmvpe else
                                                           {"contentvec": models["contentvec"]}) if with_models
                                       else {}, options=options if with_models else {}, corpus=corpus, out=target)
        summary = run_pipeline(config)
        print(summary.describe())
        checks = verify_root(target)
        clean = bool(checks) and all(not c.problems for c in checks)
        print(describe(checks) if not clean else f"verify {target}: clean ({len(checks)} outputs)")
        worst = max(worst, summary.exit_code, 0 if clean else 1)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
