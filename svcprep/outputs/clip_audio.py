"""One clip's audio as the outputs read it: every view, rate and channel layout made once, and shared products."""

from __future__ import annotations

from typing import Any

import numpy as np

from svcprep.audio.io import Audio, resample, resampled_num_samples, to_channels
from svcprep.ids import EntryId
from svcprep.outputs.base import AudioRequest


class ClipAudio:
    """One clip's audio in every form asked for, each computed once: views, rates, channel layouts, and
    shared products (``product(key, compute)``: e.g. the log-mel that the mel and energy outputs both use)."""

    def __init__(self, id: EntryId, source: Audio, frames: dict[str, int] | None = None, as_is: bool = False,
                 source_cut: Audio | None = None) -> None:
        self.id, self.uid, self.source = id, str(id), source
        # a piece: the take's own samples over its span, what every view but the slicer's reads (RVC's high-pass
        # and rate stay RVC's); ``None``: ``source`` is the entry's own audio
        self.source_cut = source_cut
        self.as_is = as_is  # every view takes the source as it is (an entry made, not decoded)
        self.frames = frames or {}  # rows fixed by files already on disk (file name -> count)
        self._bases: dict[Any, Audio] = {}
        self._audio: dict[AudioRequest, np.ndarray] = {}
        self._products: dict[Any, Any] = {}

    def base(self, view) -> Audio:
        if view not in self._bases:
            own = self.source if self.source_cut is None or view.reads_slicer_audio else self.source_cut
            self._bases[view] = own if self.as_is else view.base(own)
        return self._bases[view]

    def audio(self, request: AudioRequest) -> np.ndarray:
        if request not in self._audio:
            base = self.base(request.view)
            x = to_channels(base, request.channels)
            rate = request.sample_rate or base.sample_rate
            self._audio[request] = resample(x, base.sample_rate, rate, request.length_rule)
        return self._audio[request]

    def sample_rate(self, request: AudioRequest) -> int:
        return request.sample_rate or self.base(request.view).sample_rate

    @property
    def num_samples(self) -> _Lengths:
        """``num_samples[request]``: the length of that audio (computed without resampling where possible),
        as :class:`~svcprep.outputs.base.ClipInfo` has it."""
        return _Lengths(self)

    def length(self, request: AudioRequest) -> int:
        if request in self._audio:
            return len(self._audio[request])
        base = self.base(request.view)
        return resampled_num_samples(base.num_samples, base.sample_rate, self.sample_rate(request),
                                     request.length_rule)

    def product(self, key: Any, compute) -> Any:
        if key not in self._products:
            self._products[key] = compute()
        return self._products[key]


class _Lengths:
    def __init__(self, clip: ClipAudio) -> None:
        self._clip = clip

    def __getitem__(self, request: AudioRequest) -> int:
        return self._clip.length(request)
