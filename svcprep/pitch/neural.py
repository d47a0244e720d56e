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
N_FFT = 1024
MEL_CHUNK_FRAMES = 4096  # STFT frames per step: the complex spectrum of one chunk at a time


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
    max_batch_samples = SAMPLE_RATE * 240  # padded samples per forward (halved on out-of-memory)

    def __init__(self, threshold: float, device: torch.device, dtype: torch.dtype) -> None:
        self.threshold, self.device, self.dtype = threshold, device, dtype
        if device.type == "cpu":  # one window per forward: a wider batch is no faster on a CPU, only larger
            self.max_batch_samples = (self.window_frames + 2 * self.context_frames) * HOP_LENGTH

    # -- implemented by each tracker ------------------------------------------------------------------
    def mel_padding(self, num_samples: int) -> tuple[int, int, str]:
        """(left, right, mode) padding of a clip of ``num_samples`` before its STFT (``center=False``)."""
        raise NotImplementedError

    def mel_of_piece(self, piece: torch.Tensor) -> torch.Tensor:
        """``(frames, n_mels)`` log-mel of a padded piece: its STFT frames ``N_FFT`` long, ``HOP_LENGTH`` apart."""
        raise NotImplementedError

    def network(self, mels: torch.Tensor, lengths: list[int], context: list) -> torch.Tensor:
        """``(B, T_max, 360)`` salience of a zero-padded ``(B, T_max, n_mels)`` batch, masked per clip."""
        raise NotImplementedError

    def clip_context(self, mel: torch.Tensor) -> object:
        """Whole-clip quantities a window needs to equal the whole clip (e.g. normalisation statistics)."""
        return None

    def streamed_clip_context(self, frames, total: int) -> object:
        """:meth:`clip_context` of a clip of ``total`` mel frames that ``frames(a, b)`` reads forward (a long file,
        cut into windows)."""
        return None

    @torch.inference_mode()
    def long_clip_context(self, frames, total: int) -> object:
        """:meth:`streamed_clip_context` where the clip runs in windows, else ``None``."""
        if runs_whole(total, self.window_frames, self.context_frames):
            return None
        return self.streamed_clip_context(frames, total)

    @torch.inference_mode()
    def window_f0(self, mel: torch.Tensor, window: Window, context: object) -> np.ndarray:
        """F0 of the kept frames of one window of a long clip, from the window's mel ``(frames, n_mels)`` (a run
        of that window alone, as :meth:`salience` runs it with one window per forward)."""
        salience = self.network(mel[None].to(self.device), [window.last - window.first], [context]).float().cpu()
        return self.decode(salience[0, window.keep_from: window.keep_to])

    def decode(self, salience: torch.Tensor) -> np.ndarray:
        """``(T, 360)`` → ``(T,)`` F0 in Hz, 0 where unvoiced."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------------------
    def _mel_layout(self, num_samples: int) -> tuple[int, int, str, int, int]:
        left, right, mode = self.mel_padding(num_samples)
        return left, right, mode, (num_samples + left + right - N_FFT) // HOP_LENGTH + 1, num_samples // HOP_LENGTH + 1

    def mel(self, wav: np.ndarray) -> torch.Tensor:
        """``(T, n_mels)`` float32 log-mel of a 16 kHz clip, ``T = len // 160 + 1`` (a short STFT's last frame
        repeated)."""
        return torch.cat([rows for _, rows in self.mel_chunks(lambda a, b: wav[a:b], len(wav))])

    def mel_chunks(self, read, num_samples: int):
        """(first frame, ``(frames, n_mels)``) of the clip's log-mel ``MEL_CHUNK_FRAMES`` frames at a time;
        ``read(a, b)`` gives its samples ``[a, b)`` (a stream read forward, or the clip itself): a long file's mel
        equals its whole mel, chunk for chunk, holding one chunk of samples."""
        left, right, mode, stft_frames, wanted = self._mel_layout(num_samples)
        last_row = None
        for first in range(0, max(stft_frames, 1), MEL_CHUNK_FRAMES):
            last = min(stft_frames, first + MEL_CHUNK_FRAMES)
            low, high = first * HOP_LENGTH - left, (last - 1) * HOP_LENGTH + N_FFT - left  # in the clip's samples
            piece = torch.from_numpy(np.ascontiguousarray(read(max(0, low), min(num_samples, high)),
                                                          dtype=np.float32))
            if low < 0 or high > num_samples:  # the clip's ends: padded as the whole clip is
                piece = torch.nn.functional.pad(piece[None, None], (max(0, -low), max(0, high - num_samples)),
                                                mode=mode)[0, 0]
            rows = self.mel_of_piece(piece)
            last_row = rows[-1:]
            yield first, rows[: max(0, wanted - first)]
        if stft_frames < wanted:
            yield stft_frames, last_row.expand(wanted - stft_frames, -1)

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
        return self.frame_times_at(np.arange(num_frames))

    @staticmethod
    def frame_times_at(frames: np.ndarray) -> np.ndarray:
        """Times in seconds of native frames ``frames``: frame i at sample ``160·i`` (FCPE and RMVPE alike)."""
        return frames * HOP_LENGTH / SAMPLE_RATE


class MelFrames:
    """A clip's log-mel frames ``[a, b)`` from its chunks as they stream (reads go forward; earlier frames are
    dropped)."""

    def __init__(self, chunks) -> None:
        self._chunks, self._rows, self._start = chunks, None, 0

    def __call__(self, a: int, b: int) -> torch.Tensor:
        if self._rows is not None and a > self._start:
            self._rows, self._start = self._rows[a - self._start:], a
        while self._rows is None or self._start + self._rows.shape[0] < b:
            first, rows = next(self._chunks)
            if self._rows is None:
                self._rows, self._start = rows, first
            else:
                self._rows = torch.cat([self._rows, rows])
        return self._rows[a - self._start: b - self._start]


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
