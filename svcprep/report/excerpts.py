"""Short listening copies of flagged clips for the page: the first seconds, mono, 16 kHz, 16-bit WAV bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from svcprep.audio.stream import read_blocks

EXCERPT_SECONDS = 8.0
EXCERPT_SAMPLE_RATE = 16000


def wav_excerpt(path: Path, seconds: float = EXCERPT_SECONDS) -> bytes:
    """WAV bytes of the first ``seconds`` of ``path`` (read block by block; the rest of the file is not read)."""
    import soundfile as sf

    wanted = int(seconds * EXCERPT_SAMPLE_RATE)
    pieces, have = [], 0
    for block in read_blocks(path, EXCERPT_SAMPLE_RATE, 1, block_seconds=2.0):
        pieces.append(block[0])
        have += block.shape[1]
        if have >= wanted:
            break
    samples = np.concatenate(pieces)[:wanted] if pieces else np.zeros(0, dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), EXCERPT_SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
