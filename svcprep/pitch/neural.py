"""What FCPE and RMVPE share: 16 kHz mono in, a 128-bin log-mel every 10 ms, a network giving a 360-bin
salience per frame, a decoder to F0 (0 = unvoiced where the peak salience is at most ``threshold``).

Batches are exact: clips of different lengths run together, and every operation that could see another clip's
frames or the padding is masked (convolutions read zeros past each clip's end, as in a run of that clip alone;
normalisation statistics cover each clip's own frames; the recurrent layer is packed), so a clip's salience does
not depend on its batch mates. Long clips run in windows of ``window_frames`` with ``context_frames`` of context
on each side, cut back to the window exactly::

    clip frames  |0 ............................................................ T|
    window 0     |===== kept =====|~ctx~|
    window 1            |~ctx~|===== kept =====|~ctx~|
    window 2                         |~ctx~|====== kept (rest) ======|
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from svcprep.audio.io import resample
from svcprep.errors import AudioLoadError, CheckpointError, ConfigError, FrameCountError
from svcprep.extractors.base import resolve_device, resolve_dtype

SAMPLE_RATE, HOP_LENGTH = 16000, 160


@dataclass(frozen=True)
class Window:
    clip: int
    first: int  # first mel frame fed to the network
    last: int  # one past the last
    keep_from: int  # local frames [keep_from, keep_to) are kept: global frames first + keep_from ...
    keep_to: int


def runs_whole(num_frames: int, window_frames: int, context_frames: int) -> bool:
    """Whether a clip of ``num_frames`` runs as one window (no cut)."""
    return num_frames <= window_frames + 2 * context_frames


def plan_windows(lengths: list[int], window_frames: int, context_frames: int, align: int = 1) -> list[Window]:
    """Windows over each clip's frames; starts of kept spans are multiples of ``align`` frames."""
    windows = []
    for clip, total in enumerate(lengths):
        if runs_whole(total, window_frames, context_frames):
            windows.append(Window(clip, 0, total, 0, total))
            continue
        for start in range(0, total, window_frames):
            stop = min(total, start + window_frames)
            first, last = max(0, start - context_frames), min(total, stop + context_frames)
            windows.append(Window(clip, first, last, start - first, stop - first))
    return windows


class NeuralTracker:
    """A loaded neural tracker. Subclasses set ``spec``, ``net`` and implement :meth:`mel`, :meth:`network`,
    :meth:`decode`."""

    spec = None
    window_frames = 6000  # 60 s
    context_frames = 416  # 4.16 s
    frame_align = 1
    max_batch_samples = SAMPLE_RATE * 240  # padded samples per forward (halved on out-of-memory)

    def __init__(self, threshold: float, device: torch.device, dtype: torch.dtype) -> None:
        self.threshold, self.device, self.dtype = threshold, device, dtype
        if device.type == "cpu":  # one window per forward: a wider batch is no faster on a CPU, only larger
            self.max_batch_samples = (self.window_frames + 2 * self.context_frames) * HOP_LENGTH

    # -- implemented by each tracker ------------------------------------------------------------------
    def mel(self, wav: np.ndarray) -> torch.Tensor:
        """``(T, n_mels)`` float32 log-mel of a 16 kHz clip, ``T = len // 160 + 1``."""
        raise NotImplementedError

    def network(self, mels: torch.Tensor, lengths: list[int], context: list) -> torch.Tensor:
        """``(B, T_max, 360)`` salience of a zero-padded ``(B, T_max, n_mels)`` batch, masked per clip."""
        raise NotImplementedError

    def clip_context(self, mel: torch.Tensor) -> object:
        """Whole-clip quantities a window needs to equal the whole clip (e.g. normalisation statistics)."""
        return None

    def decode(self, salience: torch.Tensor) -> np.ndarray:
        """``(T, 360)`` → ``(T,)`` F0 in Hz, 0 where unvoiced."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------------------
    def _check(self, index: int, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1:
            raise AudioLoadError(f"clip {index}: {self.spec.name} takes mono 1-D audio, got shape {wav.shape}")
        if not np.isfinite(wav).all():
            raise AudioLoadError(f"clip {index}: audio contains NaN or infinite samples")
        if self.spec.num_frames(len(wav)) < 1:
            field = self.spec.receptive_field
            raise AudioLoadError(f"clip {index} has {len(wav)} samples; {self.spec.name} needs at least {field} "
                                 f"({1000 * field / SAMPLE_RATE:.0f} ms)")
        return wav

    @torch.inference_mode()
    def salience(self, waveforms: list[np.ndarray]) -> list[torch.Tensor]:
        """``(T_i, 360)`` float32 salience per 16 kHz clip, independent of its batch mates."""
        mels = [self.mel(self._check(i, w)) for i, w in enumerate(waveforms)]
        contexts = [self.clip_context(m) for m in mels]
        windows = plan_windows([m.shape[0] for m in mels], self.window_frames, self.context_frames)
        pieces: list[list[tuple[int, torch.Tensor]]] = [[] for _ in mels]
        order = sorted(range(len(windows)), key=lambda i: windows[i].last - windows[i].first, reverse=True)
        budget = max(1, self.max_batch_samples // HOP_LENGTH)
        start = 0
        while start < len(order):
            longest = windows[order[start]].last - windows[order[start]].first
            group = [windows[i] for i in order[start : start + max(1, budget // max(1, longest))]]
            lengths = [w.last - w.first for w in group]
            batch = torch.zeros(len(group), max(lengths), mels[0].shape[1])
            for row, w in enumerate(group):
                batch[row, : lengths[row]] = mels[w.clip][w.first : w.last]
            out = self.network(batch.to(self.device), lengths, [contexts[w.clip] for w in group]).float().cpu()
            for row, w in enumerate(group):
                pieces[w.clip].append((w.first + w.keep_from, out[row, w.keep_from : w.keep_to]))
            start += len(group)
        results = []
        for clip, parts in enumerate(pieces):
            parts.sort(key=lambda p: p[0])
            salience = torch.cat([p[1] for p in parts])
            if salience.shape[0] != mels[clip].shape[0]:
                raise FrameCountError(f"{self.spec.name}: {salience.shape[0]} frames for {mels[clip].shape[0]}")
            results.append(salience)
        return results

    def extract(self, waveforms: list[np.ndarray]) -> list[np.ndarray]:
        """F0 in Hz per 10 ms frame (``len // 160 + 1`` of them), 0 = unvoiced, for each 16 kHz clip."""
        return [self.decode(s) for s in self.salience(waveforms)]

    def native_track(self, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
        """(frame times in seconds, F0 in Hz with 0 = unvoiced) of mono ``wav`` at any rate (resampled to 16 kHz)."""

        x = resample(np.asarray(wav, dtype=np.float32), sample_rate, SAMPLE_RATE)
        f0 = self.extract([x])[0]
        return self.frame_times(len(f0)), f0

    def frame_times(self, num_frames: int) -> np.ndarray:
        raise NotImplementedError


def time_mask(lengths: list[int], total: int, device: torch.device) -> torch.Tensor:
    """``(B, total)`` bool: True on each row's valid frames."""
    return torch.arange(total, device=device)[None, :] < torch.tensor(lengths, device=device)[:, None]


def load_network(net: torch.nn.Module, state: dict, resolved) -> tuple[torch.nn.Module, torch.device, torch.dtype]:
    """``state`` into ``net`` (every tensor, exactly), on the resolved device and dtype, in eval mode."""

    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{resolved.path}: does not fit a {resolved.name} network of its own shapes "
                              f"({str(exc).splitlines()[0]})") from exc
    device, dtype = resolve_device(resolved.device), resolve_dtype(resolved.dtype)
    return net.eval().to(device=device, dtype=dtype), device, dtype


def checkpoint_path(tracker: str, model: str | Path) -> Path:
    """``model`` as a checkpoint file; a missing path, a directory, a FIFO or a device is one clear error."""
    path = Path(model).expanduser()
    if not path.exists():
        raise ConfigError(f"{tracker}: checkpoint {path} does not exist; check --model {tracker}=PATH", "model")
    if not path.is_file():
        what = "a directory" if path.is_dir() else "not a regular file (a FIFO or a device)"
        raise ConfigError(f"{tracker}: checkpoint {path} is {what}; give the checkpoint file itself "
                          f"(--model {tracker}=PATH)", "model")
    return path
