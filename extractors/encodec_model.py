"""Encodec models (the model side of ``encodec.py``): encoder latents, dequantized RVQ embeddings, or codes.

Outputs per clip, on the grid ``hop = prod(upsampling_ratios)`` at ``sampling_rate``:

- ``latent``: the encoder on the whole clip, ``(ceil(L / hop), hidden_size)``.
- ``quantized``: the dequantized RVQ embedding at ``bandwidth``, same shape.
- ``codes``: integer codes ``(ceil(L / hop), n_q)``.

The SEANet encoder reflect-pads each input's end, so a zero-padded batch would change a clip's last frames:
only clips of identical length share a forward pass.

48 kHz model: it normalises and encodes 1 s segments every 0.99 s (each segment with its own RMS scale).
``codes``/``quantized`` follow that segmentation and are put back on the uniform grid of the latent: frame
``j`` (starting at sample ``j * hop``) takes its code from the last segment that starts at or before that
sample, at that segment's nearest frame (ties to the earlier). Every grid frame gets exactly one code and no
segment frame is used twice; ``quantized`` is in the segment's normalised scale (the scale multiplies the
decoder output, not the embedding).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from svcprep.errors import CheckpointError
from svcprep.extractors.base import BatchExtractor, resolve_device, resolve_dtype
from svcprep.extractors.encodec import read_config, resolved_bandwidth
from svcprep.extractors.encodec_meta import load_meta_encodec, size_rvq
from svcprep.extractors.hf_weights import check_pickled_weights, uses_safetensors, weight_keys
from svcprep.extractors.metadata import count_rvq_layers
from svcprep.extractors.spec import ExtractorSpec


def uniform_segment_index(num_frames: int, hop: int, stride: int, segment_frames: list[int]) -> list[tuple[int, int]]:
    """(segment, local frame) for each uniform-grid frame; see the module docstring."""
    picks = []
    for j in range(num_frames):
        start = j * hop
        seg = min(start // stride, len(segment_frames) - 1)
        local = (start - seg * stride + (hop - 1) // 2) // hop
        picks.append((seg, min(local, segment_frames[seg] - 1)))
    return picks


class EncodecExtractor(BatchExtractor):
    def __init__(self, spec: ExtractorSpec, model, *, output: str, bandwidth: float, device, dtype) -> None:
        self.spec, self.device, self.dtype = spec, device, dtype
        self.model = model.to(device=device, dtype=dtype).eval()
        self.output, self.bandwidth = output, float(bandwidth)
        self.num_quantizers = model.quantizer.get_num_quantizers_for_bandwidth(self.bandwidth)

    def _encode_segments(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """codes ``(n_q, T)`` and quantized ``(D, T)`` on the uniform grid, for one clip ``(C, N)``."""
        config = self.model.config
        num_samples = wav.shape[-1]
        if config.chunk_length is None:
            emb = self.model.encoder(wav[None])
            codes = self.model.quantizer.encode(emb, self.bandwidth)[:, 0]
        else:
            out = self.model.encode(wav[None], bandwidth=self.bandwidth, return_dict=True)
            stride, hop = config.chunk_stride, self.spec.hop_length
            seg_frames = [-(-min(config.chunk_length, num_samples - s) // hop) for s in range(0, num_samples, stride)]
            seg_codes = out.audio_codes[:, 0]  # (segments, n_q, T_seg)
            picks = uniform_segment_index(self.spec.num_frames(num_samples), hop, stride, seg_frames)
            codes = torch.stack([seg_codes[s, :, f] for s, f in picks], dim=1)
        quantized = self.model.quantizer.decode(codes[:, None])[0]
        return codes, quantized

    def _forward_equal_lengths(self, wavs: torch.Tensor) -> list[torch.Tensor]:
        if self.output == "latent":
            return list(self.model.encoder(wavs).transpose(1, 2))
        results = []
        for wav in wavs:
            codes, quantized = self._encode_segments(wav)
            results.append(codes.T if self.output == "codes" else quantized.T)
        return results

    def forward_batch(self, batch: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
        if batch.dim() == 2:
            batch = batch[:, None, :]
        batch = batch.to(self.dtype)
        by_length: dict[int, list[int]] = defaultdict(list)
        for i, n in enumerate(lengths):
            by_length[n].append(i)
        outputs: list[torch.Tensor | None] = [None] * len(lengths)
        for n, rows in by_length.items():
            for row, out in zip(rows, self._forward_equal_lengths(batch[rows, :, :n]), strict=True):
                outputs[row] = out
        return outputs  # type: ignore[return-value]


def _load_model(spec: ExtractorSpec, path: Path, bandwidth: float):
    if path.is_file():
        return load_meta_encodec(path, spec.sample_rate, bandwidth)
    from safetensors import SafetensorError
    from transformers import EncodecModel


    check_pickled_weights(path)
    try:
        model = EncodecModel.from_pretrained(str(path), use_safetensors=uses_safetensors(path))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise CheckpointError(f"encodec: cannot load {path}: {exc}") from exc
    size_rvq(model, count_rvq_layers(weight_keys(path)))
    return model.eval()


def load(spec: ExtractorSpec, path: Path, options: dict[str, Any]) -> EncodecExtractor:
    bandwidth = resolved_bandwidth(read_config(path), options["bandwidth"], spec.name)
    net = _load_model(spec, path, bandwidth)
    extractor = EncodecExtractor(spec, net, output=options["output"], bandwidth=bandwidth,
                                 device=resolve_device(options["device"]), dtype=resolve_dtype(options["dtype"]))
    if options["verify"]:
        extractor.verify()
    return extractor
