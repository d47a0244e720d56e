"""``svcprep plot``: one utterance as a picture, so that a shifted feature or pitch track shows at a glance.

Top: the mel spectrogram. Below it, the F0 contour in Hz on a log axis (voiced frames only), on the same frame
axis. Below, each aligned feature as its first principal components (z-scored), with the native frame
boundaries marked along the top of each panel (from the recorded native grid), so the mapping from native
frames to mel frames is visible. Everything is read through the output root's sink and records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from svcprep.errors import ConfigError
from svcprep.verify import open_recipe_tree

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


def plot_utterance(out: Path, uid: str, image_path: Path, features: list[str] | None = None) -> Path:
    """Draw :func:`draw_utterance` into a PNG."""
    import matplotlib.pyplot as plt

    figure = draw_utterance(out, uid, features)
    image_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(image_path, dpi=100)
    plt.close(figure)
    return image_path


def draw_utterance(out: Path, uid: str, features: list[str] | None = None):
    """The figure of one utterance of output root ``out`` (a matplotlib ``Figure``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("svcprep plot needs matplotlib: pip install 'svcprep[plot]'") from exc

    tree, _, _ = open_recipe_tree(out)
    sink, id = tree.sink, tree.id_of(uid)
    records = {name: tree.bookkeeping.read_record(name) for name in tree.bookkeeping.recorded_outputs()}
    mel_record = next((r for r in records.values() if r and r.kind == "mel"), None)
    if mel_record is None or not sink.exists(mel_record.files[0], id):
        raise ConfigError(f"no mel for uid {uid!r} in {out}", "uid")
    preset = mel_record.settings.get("preset", {})
    mel = sink.read(mel_record.files[0], id)
    if mel_record.frames is not None and mel_record.frames.axis == 0:
        mel = mel.T
    if features is None:
        features = sorted(name for name, r in records.items() if r and r.kind == "feature")
    unknown = [f for f in features if records.get(f) is None or records[f].kind != "feature"]
    if unknown:
        raise ConfigError(f"no aligned feature named {', '.join(unknown)} under {out}", "features")
    missing = [f for f in features if not sink.exists(records[f].files[0], id)]
    if missing:
        raise ConfigError(f"uid {uid!r} has no file in {', '.join(missing)} under {out}", "features")
    pitch_record = next((r for r in records.values() if r and r.kind == "pitch"), None)
    has_pitch = pitch_record is not None and sink.exists(pitch_record.files[0], id)
    panels = 1 + int(has_pitch) + len(features)
    figure, axes = plt.subplots(panels, 1, sharex=True, squeeze=False, figsize=(12, 3 + 1.8 * (panels - 1)),
                                gridspec_kw={"height_ratios": [2.2] + [1] * (panels - 1)})
    axes = list(axes[:, 0])
    axes[0].imshow(mel, origin="lower", aspect="auto", interpolation="nearest", cmap="magma")
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(f"{uid}: {mel.shape[1]} mel frames ({preset.get('name', 'mel')}, "
                      f"{preset.get('sample_rate', '?')} Hz / hop {preset.get('hop_length', '?')})")
    rest = axes[1:]
    if has_pitch:
        f0 = np.asarray(sink.read(pitch_record.files[0], id), dtype=np.float64)
        axis = rest.pop(0)
        axis.plot(np.arange(len(f0)), np.where(f0 > 0, f0, np.nan), color="tab:blue", linewidth=1.2)
        axis.set_yscale("log")
        axis.set_ylabel("F0 (Hz)")
        axis.set_title("F0 at the mel frame centres (unvoiced frames left blank)", fontsize=9)
        axis.grid(True, which="both", alpha=0.3)
    for axis, name in zip(rest, features, strict=True):
        record = records[name]
        values = sink.read(record.files[0], id)
        components = principal_components(values)
        for k in range(components.shape[1]):
            axis.plot(np.arange(len(components)), components[:, k], linewidth=1, label=f"PC{k + 1}")
        native, target = record.native_grid, record.grid
        if native and target:
            period = (native.hop_length / native.sample_rate) / (target.hop_length / target.sample_rate)
            boundaries = np.arange(0, len(components) + period, period)
            axis.vlines(boundaries, 0.85, 1.0, transform=axis.get_xaxis_transform(), color="grey", linewidth=0.6)
            axis.set_title(f"{name}: {values.shape[1] if values.ndim > 1 else 1}-d, native frame = "
                           f"{period:.3f} mel frames (ticks)", fontsize=9)
        axis.set_ylabel(name)
        axis.legend(loc="upper right", fontsize=7, ncol=NUM_COMPONENTS)
    axes[-1].set_xlabel("mel frame")
    figure.tight_layout()
    return figure
