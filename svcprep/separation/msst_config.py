"""The YAML that comes with a Music-Source-Separation-Training checkpoint: ``audio`` (rate, channels, chunk),
``model`` (the constructor's arguments), ``training`` (the stems), ``inference`` (overlap, batch size, normalise).

Read with a safe loader that adds ``!!python/tuple`` and nothing else: any other ``!!python/...`` tag (an object, a
call) is refused with the tag named.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from svcprep.errors import ConfigError
from svcprep.fileio import plain_name, shown
from svcprep.separation.stems import RESIDUAL

ARCHITECTURES = ("bs_roformer", "mel_band_roformer")


@dataclass(frozen=True)
class RoformerShape:
    """What decides a RoFormer's weights and its STFT (the YAML's ``model:`` block, checked)."""

    dim: int
    depth: int
    stereo: bool
    num_stems: int
    time_transformer_depth: int
    freq_transformer_depth: int
    dim_head: int
    heads: int
    stft_n_fft: int
    stft_hop_length: int
    stft_win_length: int
    stft_normalized: bool
    mask_estimator_depth: int
    mlp_expansion_factor: int = 4
    zero_dc: bool = True

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    @property
    def num_bins(self) -> int:
        return self.stft_n_fft // 2 + 1


class TupleSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus ``!!python/tuple`` (the published configs write band splits as tuples)."""


TupleSafeLoader.add_constructor("tag:yaml.org,2002:python/tuple",
                                lambda loader, node: tuple(loader.construct_sequence(node)))


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the separator config ({exc})") from exc
    try:
        data = yaml.load(text, Loader=TupleSafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc.problem_mark, "line", None)
        where = f" (line {tag + 1})" if tag is not None else ""
        raise ConfigError(f"{path}: refused{where}: {exc.problem}; a separator config holds plain values and "
                          "tuples only") from exc
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer past Python's digit limit
        raise ConfigError(f"{path}: invalid YAML ({str(exc).splitlines()[0][:200]})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ConfigError(f"{path}: not a separator config (expected 'audio:', 'model:', 'training:' and "
                          "'inference:' blocks)")
    return data


@dataclass(frozen=True)
class SeparatorConfig:
    """What svcprep takes from the YAML, checked."""

    architecture: str
    shape: RoformerShape
    sample_rate: int
    num_channels: int
    chunk_size: int
    num_overlap: int
    batch_size: int
    stems: tuple[str, ...]  # what the model returns, in order
    target: str  # the stem whose residual is mix minus it
    normalize: bool
    freqs_per_bands: tuple[int, ...] = ()  # BS-RoFormer
    num_bands: int = 0  # Mel-Band RoFormer
    mel_sample_rate: int = 0  # Mel-Band RoFormer: the rate its mel bands are placed at

    def settings(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "sample_rate": self.sample_rate, "chunk_size": self.chunk_size,
                "num_overlap": self.num_overlap, "stems": list(self.stems), "normalize": self.normalize}


def _architecture(model: dict[str, Any], path: Path) -> str:
    if "num_bands" in model:
        return "mel_band_roformer"
    if "freqs_per_bands" in model:
        return "bs_roformer"
    raise ConfigError(f"{path}: unknown separator architecture (its model block has neither 'freqs_per_bands' "
                      f"(BS-RoFormer) nor 'num_bands' (Mel-Band RoFormer)); svcprep runs {', '.join(ARCHITECTURES)}")


# Bounds on every size the YAML states, checked before anything is built or recorded: a value such as
# ``dim: 1e9`` or ``chunk_size: 2**40`` would otherwise build a model or a buffer that exhausts memory. The
# published RoFormers (dim 128-512, depth 6-12, 8 s-11 s chunks at 44.1 kHz) sit far inside them.
LIMITS = {
    "dim": (1, 4096), "depth": (1, 64), "heads": (1, 64), "dim_head": (1, 1024), "num_stems": (1, 16),
    "time_transformer_depth": (1, 16), "freq_transformer_depth": (1, 16), "mask_estimator_depth": (1, 16),
    "mlp_expansion_factor": (1, 16), "stft_n_fft": (16, 65536), "stft_hop_length": (1, 65536),
    "stft_win_length": (16, 65536), "sample_rate": (1000, 768000), "num_channels": (1, 2),
    "chunk_size": (1, 4_194_304), "num_overlap": (1, 64), "batch_size": (1, 64), "num_bands": (2, 1024),
}
MAX_BANDS = 1024
MAX_PARAMETERS = 2_000_000_000  # as for the extractors' configs (svcprep.extractors.limits)


def _int(block: dict[str, Any], key: str, path: Path, default: int | None = None, minimum: int = 1) -> int:
    value = block.get(key, default)
    low, high = LIMITS.get(key, (minimum, None))
    low = max(low, minimum)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{path}: {key} must be an integer {bounds}, got {shown(value)}")
    return value


def _check_geometry(shape: RoformerShape, chunk_size: int, path: Path) -> None:
    """The STFT and the chunking fit together: hop <= window <= n_fft <= chunk, and the model is of a buildable
    size (attention and feed-forward weights of every transformer layer, about)."""
    if not shape.stft_hop_length <= shape.stft_win_length <= shape.stft_n_fft:
        raise ConfigError(f"{path}: model.stft_hop_length {shape.stft_hop_length} <= stft_win_length "
                          f"{shape.stft_win_length} <= stft_n_fft {shape.stft_n_fft} does not hold")
    if chunk_size < shape.stft_n_fft:
        raise ConfigError(f"{path}: chunk_size {chunk_size} is shorter than one STFT frame (stft_n_fft "
                          f"{shape.stft_n_fft})")
    layers = shape.depth * (shape.time_transformer_depth + shape.freq_transformer_depth)
    inner = shape.heads * shape.dim_head
    parameters = layers * (4 * shape.dim * inner + 2 * shape.mlp_expansion_factor * shape.dim ** 2)
    if parameters > MAX_PARAMETERS:
        raise ConfigError(f"{path}: the config describes a model of about {parameters:.3g} parameters (more than "
                          f"{MAX_PARAMETERS:.0e}); the file is damaged or not a separator config")


_UNSUPPORTED = {"linear_transformer_depth": 0, "skip_connection": False, "use_pope": False}


def separator_config(path: Path, architecture: str | None = None) -> SeparatorConfig:
    """The checked config of ``path``; ``architecture`` overrides the guess from the model block's keys."""
    data = read_yaml(path)
    model = dict(data["model"])
    audio, training, inference = (data.get(k) or {} for k in ("audio", "training", "inference"))
    if not all(isinstance(b, dict) for b in (audio, training, inference)):
        raise ConfigError(f"{path}: 'audio', 'training' and 'inference' must be mappings")
    architecture = architecture or _architecture(model, path)
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"{path}: unknown separator architecture {architecture!r}; svcprep runs "
                          f"{', '.join(ARCHITECTURES)}")
    for key, plain in _UNSUPPORTED.items():
        if model.get(key, plain) != plain:
            raise ConfigError(f"{path}: model.{key} = {shown(model[key])} is not supported (svcprep builds the "
                              f"published RoFormers, which have {key} = {plain!r})")
    shape_values = {}
    defaults = {"stereo": False, "num_stems": 1, "time_transformer_depth": 2, "freq_transformer_depth": 2,
                "dim_head": 64, "heads": 8, "stft_n_fft": 2048, "stft_hop_length": 512, "stft_win_length": 2048,
                "stft_normalized": False, "mask_estimator_depth": 2 if architecture == "bs_roformer" else 1,
                "mlp_expansion_factor": 4, "zero_dc": True}
    for field in fields(RoformerShape):
        value = model.get(field.name, defaults.get(field.name))
        if field.type in ("bool", bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: model.{field.name} must be true or false, got {shown(value)}")
        else:
            value = _int(model, field.name, path, defaults.get(field.name))
        shape_values[field.name] = value
    shape = RoformerShape(**shape_values)
    sample_rate = _int(audio, "sample_rate", path, 44100)
    num_channels = _int(audio, "num_channels", path, shape.channels)
    if num_channels != shape.channels:
        raise ConfigError(f"{path}: audio.num_channels is {num_channels} but the model is "
                          f"{'stereo' if shape.stereo else 'mono'}")
    chunk_size = _int(inference, "chunk_size", path, audio.get("chunk_size"))
    num_overlap = _int(inference, "num_overlap", path, 4)
    _check_geometry(shape, chunk_size, path)
    if chunk_size // num_overlap < 1:
        raise ConfigError(f"{path}: num_overlap {num_overlap} leaves no step in a chunk of {chunk_size} samples")
    target = training.get("target_instrument")
    instruments = training.get("instruments") or []
    if not isinstance(instruments, list | tuple):
        raise ConfigError(f"{path}: training.instruments must be a list of stem names")
    stems = (target,) if target else tuple(instruments)
    if not stems or not all(isinstance(s, str) and s for s in stems):
        raise ConfigError(f"{path}: training.instruments / training.target_instrument name no stem")
    try:  # each stem becomes a dir name: data, never a path
        for stem in (*instruments, *stems):
            plain_name(stem, "stem")
    except ValueError as exc:
        raise ConfigError(f"{path}: training.instruments / target_instrument: {exc}") from exc
    if len(set(stems)) != len(stems) or RESIDUAL in stems:
        raise ConfigError(f"{path}: training.instruments must name distinct stems, none called {RESIDUAL!r}")
    if len(stems) != shape.num_stems:
        raise ConfigError(f"{path}: the model returns {shape.num_stems} stem(s) but the config names "
                          f"{len(stems)} ({', '.join(stems)})")
    extra: dict[str, Any] = {}
    if architecture == "bs_roformer":
        bands = model["freqs_per_bands"]
        if not isinstance(bands, list | tuple) or not 0 < len(bands) <= MAX_BANDS or not all(
                isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in bands):
            raise ConfigError(f"{path}: model.freqs_per_bands must be 1..{MAX_BANDS} positive integers")
        if sum(bands) != shape.num_bins:
            raise ConfigError(f"{path}: model.freqs_per_bands add up to {sum(bands)} bins; an n_fft of "
                              f"{shape.stft_n_fft} has {shape.num_bins}")
        extra["freqs_per_bands"] = tuple(bands)
    else:
        extra["num_bands"] = _int(model, "num_bands", path, minimum=2)
        extra["mel_sample_rate"] = _int(model, "sample_rate", path, 44100)
    normalize = inference.get("normalize", False)
    return SeparatorConfig(
        architecture=architecture, shape=shape, sample_rate=sample_rate, num_channels=num_channels,
        chunk_size=chunk_size, num_overlap=num_overlap, batch_size=_int(inference, "batch_size", path, 1),
        stems=stems, target=target or ("vocals" if "vocals" in stems else stems[0]),
        normalize=normalize is True, **extra)
