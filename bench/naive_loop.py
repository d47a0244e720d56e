"""A peer-style baseline: one file at a time, batch 1, decode → resample → model → align → save, all inline.

This is how SVC projects' preprocessing scripts are usually written; the benchmark runs it as its own process.
``python bench/naive_loop.py {hubert|whisper} MODEL_DIR CORPUS_DIR OUT_DIR``
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from svcprep import align_features  # noqa: E402


def main(kind: str, model_dir: Path, corpus: Path, out: Path) -> None:
    if kind == "hubert":
        from transformers import HubertModel

        model = HubertModel.from_pretrained(str(model_dir)).eval()
    else:
        from transformers import WhisperFeatureExtractor, WhisperModel

        features = WhisperFeatureExtractor.from_pretrained(str(model_dir))
        model = WhisperModel.from_pretrained(str(model_dir)).get_encoder().eval()
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(corpus.rglob("*.flac")):
        wav, rate = sf.read(path, dtype="float32")
        wav = wav.mean(axis=1) if wav.ndim > 1 else wav
        mel_frames = math.ceil(len(wav) * (24000 / rate)) // 256  # the amphion-svc-24k preset (librosa length)
        wav16 = soxr.resample(wav, rate, 16000, quality="HQ").astype(np.float32)
        with torch.inference_mode():
            if kind == "hubert":
                feats = model(torch.from_numpy(wav16)[None]).last_hidden_state[0].numpy()
            else:
                mel = features(wav16, sampling_rate=16000, return_tensors="pt").input_features
                feats = model(mel).last_hidden_state[0, : -(-(len(wav16) // 160) // 2)].numpy()
        aligned = align_features(feats, source_hop=320, source_sample_rate=16000, target_hop=256,
                                 target_sample_rate=24000, target_len=mel_frames)
        np.save(out / f"{path.stem}.npy", aligned)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
