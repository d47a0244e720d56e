"""Option names each extractor family accepts (validated before any model loads)."""

COMMON_OPTIONS = frozenset({"device", "dtype", "layer", "chunk_seconds", "overlap_seconds", "verify"})
FAMILY_OPTIONS = {
    "whisper": frozenset({"window"}),
    "contentvec": frozenset({"proj"}),
    "hubert": frozenset(),
    "wavlm": frozenset(),
    "wav2vec2": frozenset(),
    "mert": frozenset({"trust_remote_code"}),
    "encodec": frozenset({"output", "bandwidth", "sample_rate"}),
    "dac": frozenset(),
}
