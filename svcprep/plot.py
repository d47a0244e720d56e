"""``svcprep plot``: one utterance as a picture, so that a shifted feature or pitch track shows at a glance.

Top: the mel spectrogram with the F0 contour drawn at its mel bins. Below, on the same frame axis, each aligned
feature as its first principal components (z-scored), with the native frame boundaries marked along the top
of each panel (from the recorded native grid), so the mapping from native frames to mel frames is visible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from svcprep.errors import ConfigError
from svcprep.pipeline.layout import MELS, PITCHES, OutputLayout
from svcprep.pipeline.provenance import read_meta

NUM_COMPONENTS = 3


def principal_components(features: np.ndarray, count: int = NUM_COMPONENTS) -> np.ndarray:
    """``(T, D)`` → ``(T, k)``: projections on the first ``k`` principal axes, each z-scored."""
    x = features.astype(np.float64)
    if x.ndim == 1:
        x = x[:, None]
    x = x - x.mean(axis=0)
    _, _, axes = np.linalg.svd(x, full_matrices=False)
    projected = x @ axes[: min(count, axes.shape[0])].T
    return (projected - projected.mean(axis=0)) / (projected.std(axis=0) + 1e-9)


def _mel_bin_of_hz(hz: np.ndarray, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Fractional mel-bin index of each frequency (Slaney mel scale, as the presets' filters)."""
    def slaney(f):
        f = np.asarray(f, dtype=np.float64)
        linear = f / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, linear)

    low, high = slaney(fmin), slaney(fmax)
    centres = np.linspace(low, high, n_mels + 2)[1:-1]
    return np.interp(slaney(hz), centres, np.arange(n_mels))


def plot_utterance(out: Path, uid: str, image_path: Path, features: list[str] | None = None) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("svcprep plot needs matplotlib: pip install 'svcprep[plot]'") from exc
    layout = OutputLayout(out)
    mel_path = layout.file(MELS, uid)
    if not mel_path.is_file():
        raise ConfigError(f"{mel_path}: no mel for uid {uid!r} in {out}", "uid")
    meta = read_meta(layout, MELS) or {}
    preset = meta.get("preset") or {}
    mel = np.load(mel_path)
    if preset.get("mel_layout") == "frames_by_mels":
        mel = mel.T
    if features is None:
        features = sorted(p.name for p in layout.bookkeeping_dir.glob("*")
                          if (read_meta(layout, p.name) or {}).get("target_grid"))
    missing = [f for f in features if not layout.file(f, uid).is_file()]
    if missing:
        raise ConfigError(f"uid {uid!r} has no file in {', '.join(missing)} under {out}", "features")
    figure, axes = plt.subplots(1 + len(features), 1, sharex=True, squeeze=False,
                                figsize=(12, 3 + 1.8 * len(features)), gridspec_kw={
                                    "height_ratios": [2.2] + [1] * len(features)})
    axes = axes[:, 0]
    axes[0].imshow(mel, origin="lower", aspect="auto", interpolation="nearest", cmap="magma")
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(f"{uid}: {mel.shape[1]} mel frames ({preset.get('name', 'mel')}, "
                      f"{preset.get('sample_rate', '?')} Hz / hop {preset.get('hop_length', '?')})")
    pitch_path = layout.file(PITCHES, uid)
    if pitch_path.is_file() and preset:
        f0 = np.load(pitch_path).astype(np.float64)
        voiced = np.where(f0 > 0, _mel_bin_of_hz(f0, mel.shape[0], preset["fmin"], preset["fmax"]), np.nan)
        axes[0].plot(np.arange(len(f0)), voiced, color="cyan", linewidth=1.5, label="F0 (at mel frame centres)")
        axes[0].legend(loc="upper right", fontsize=8)
    for axis, name in zip(axes[1:], features, strict=True):
        values = np.load(layout.file(name, uid))
        components = principal_components(values)
        for k in range(components.shape[1]):
            axis.plot(np.arange(len(components)), components[:, k], linewidth=1, label=f"PC{k + 1}")
        feature_meta = read_meta(layout, name) or {}
        native, target = feature_meta.get("native_grid"), feature_meta.get("target_grid")
        if native and target:
            period = (native["hop_length"] / native["sample_rate"]) / (target["hop_length"] / target["sample_rate"])
            boundaries = np.arange(0, len(components) + period, period)
            axis.vlines(boundaries, 0.85, 1.0, transform=axis.get_xaxis_transform(), color="grey", linewidth=0.6)
            axis.set_title(f"{name}: {values.shape[1] if values.ndim > 1 else 1}-d, native frame = "
                           f"{period:.3f} mel frames (ticks)", fontsize=9)
        axis.set_ylabel(name)
        axis.legend(loc="upper right", fontsize=7, ncol=NUM_COMPONENTS)
    axes[-1].set_xlabel("mel frame")
    figure.tight_layout()
    image_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(image_path, dpi=100)
    plt.close(figure)
    return image_path
