"""Audio decoding, resampling and the frame-grid signals computed from it (mels)."""
