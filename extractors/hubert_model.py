"""HuBERT-like models (the model side of ``hubert.py``): transformers dirs or fairseq ``.pt``.

Exact batching. The first conv layer of base-size models is followed by a GroupNorm over *time*, so zero
padding would shift every frame's statistics. Here that norm takes its mean and variance over each clip's
valid frames only; later unpadded convs never read past a clip's valid frames; the encoder gets a frame
mask, which zeroes padded frames before the positional conv and hides them from attention. A clip's output
therefore does not depend on its batch mates (checked against one-by-one runs in the tests).

``layer=L`` (1-based) is the output of transformer layer L exactly as fairseq's
``extract_features(output_layer=L)`` (for pre-LN models: before the encoder's final layer norm);
``layer="final"`` is ``last_hidden_state`` (fairseq ``output_layer=None``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from svcprep.errors import CheckpointError
from svcprep.extractors.base import BatchExtractor, resolve_device, resolve_dtype
from svcprep.extractors.fairseq_hubert import load_fairseq_hubert
from svcprep.extractors.hf_weights import check_pickled_weights, read_tensors, uses_safetensors
from svcprep.extractors.spec import ExtractorSpec


def masked_group_norm(x: torch.Tensor, num_valid: list[int], norm: nn.GroupNorm) -> torch.Tensor:
    """GroupNorm of ``x`` ``(B, C, T)`` with statistics over each row's first ``num_valid[b]`` frames only.

    One fused ``group_norm`` per row on its valid frames (in float32; one call for the whole batch when nothing
    is padded); frames past ``num_valid`` are zero, and no later layer reads them for a valid frame.
    """
    weight = norm.weight.float() if norm.affine else None
    bias = norm.bias.float() if norm.affine else None
    if all(n == x.shape[-1] for n in num_valid):
        return nn.functional.group_norm(x.float(), norm.num_groups, weight, bias, norm.eps).to(x.dtype)
    out = torch.zeros_like(x)
    for row, n in enumerate(num_valid):
        if n > 0:
            normed = nn.functional.group_norm(x[row : row + 1, :, :n].float(), norm.num_groups, weight, bias, norm.eps)
            out[row, :, :n] = normed[0].to(x.dtype)
    return out


class HubertLikeExtractor(BatchExtractor):
    def __init__(
        self,
        spec: ExtractorSpec,
        model: nn.Module,
        final_proj: nn.Linear | None,
        *,
        layer: int | str,
        device: torch.device,
        dtype: torch.dtype,
        chunk_seconds: float | None,
        overlap_seconds: float,
        input_norm_eps: float | None = None,
    ) -> None:
        for part in ("feature_extractor", "feature_projection", "encoder"):
            if not hasattr(model, part):
                raise CheckpointError(f"{spec.name}: model {type(model).__name__} has no {part}; not HuBERT-like")
        self.spec, self.device, self.dtype = spec, device, dtype
        self.chunk_seconds, self.overlap_seconds = chunk_seconds, overlap_seconds
        self.input_norm_eps = input_norm_eps
        self.model = model.to(device=device, dtype=dtype).eval()
        self.final_proj = final_proj.to(device=device, dtype=dtype).eval() if final_proj is not None else None
        self.layer = layer
        self._captured: torch.Tensor | None = None
        layers = self.model.encoder.layers
        if layer != "final":
            if layer > len(layers):
                raise CheckpointError(f"{spec.name}: layer {layer} requested, the model has {len(layers)}")
            # Layers past L never influence layer L: drop them, and read layer L's own output.
            self.model.encoder.layers = layers[:layer]
            self.model.encoder.layers[-1].register_forward_hook(self._capture)

    def _capture(self, _module: nn.Module, _inputs: Any, output: Any) -> None:
        self._captured = output[0] if isinstance(output, tuple) else output

    def _conv_features(self, wav: torch.Tensor, lengths: list[int]) -> tuple[torch.Tensor, list[int]]:
        """Conv feature encoder on ``wav`` ``(B, N)`` → ``(B, C, T)`` and each row's valid frame count."""
        h = wav[:, None, :]
        valid = list(lengths)
        for conv_layer in self.model.feature_extractor.conv_layers:
            k, s = conv_layer.conv.kernel_size[0], conv_layer.conv.stride[0]
            valid = [max(0, (n - k) // s + 1) for n in valid]
            norm = getattr(conv_layer, "layer_norm", None)
            if isinstance(norm, nn.GroupNorm):
                h = conv_layer.conv(h)
                h = masked_group_norm(h, valid, norm)
                h = conv_layer.activation(h)
            else:
                h = conv_layer(h)
        return h, valid

    def forward_batch(self, batch: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
        feats, frames = self._conv_features(batch.to(self.dtype), lengths)
        hidden = self.model.feature_projection(feats.transpose(1, 2))
        if isinstance(hidden, tuple):  # wav2vec2 / WavLM also return the pre-projection features
            hidden = hidden[0]
        steps = hidden.shape[1]
        mask = None  # every row full length (e.g. one clip): no mask, the encoder's fastest attention path
        if min(frames) < steps:
            valid = torch.tensor(frames, device=hidden.device)
            mask = torch.arange(steps, device=hidden.device)[None, :] < valid[:, None]
        self._captured = None
        out = self.model.encoder(hidden, attention_mask=mask)
        h = out[0] if self.layer == "final" else self._captured
        if self.final_proj is not None:
            h = self.final_proj(h)
        return [h[i, : frames[i]] for i in range(len(lengths))]


FAIRSEQ_NORM_EPS = 1e-5  # F.layer_norm's default
TRANSFORMERS_NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm


def _hf_normalizes_input(path: Path) -> bool:
    """``do_normalize`` of the dir's feature extractor (its default is True); no preprocessor config: raw."""
    config = path / "preprocessor_config.json"
    if not config.is_file():
        return False
    try:
        return bool(json.loads(config.read_text(encoding="utf-8")).get("do_normalize", True))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config}: invalid JSON ({exc})") from exc


def _load_model(spec: ExtractorSpec, path: Path,
                trust_remote_code: bool) -> tuple[nn.Module, nn.Linear | None, float | None]:
    """(model, final_proj, input norm eps or None) from a fairseq ``.pt`` or a transformers dir."""
    if path.is_file():
        model, final_proj, normalize = load_fairseq_hubert(path)
        return model, final_proj, FAIRSEQ_NORM_EPS if normalize else None
    from safetensors import SafetensorError
    from transformers import AutoModel


    check_pickled_weights(path)
    try:
        model = AutoModel.from_pretrained(str(path), trust_remote_code=trust_remote_code,
                                          use_safetensors=uses_safetensors(path))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise CheckpointError(f"{spec.name}: cannot load {path}: {exc}") from exc
    final_proj = None
    proj = read_tensors(path, keep=lambda k: "final_proj." in k)
    weights = {k.rsplit("final_proj.", 1)[1]: v for k, v in proj.items()}
    if "weight" in weights:
        final_proj = nn.Linear(weights["weight"].shape[1], weights["weight"].shape[0])
        final_proj.load_state_dict({"weight": weights["weight"], "bias": weights["bias"]})
    return model.eval(), final_proj, TRANSFORMERS_NORM_EPS if _hf_normalizes_input(path) else None


def load(spec: ExtractorSpec, path: Path, options: dict[str, Any]) -> HubertLikeExtractor:
    net, final_proj, input_norm_eps = _load_model(spec, path, bool(options.get("trust_remote_code", False)))
    use_proj = bool(options.get("proj", False))
    if use_proj and final_proj is None:
        raise CheckpointError(f"{spec.name}: proj=True but {path} has no final_proj layer")
    width = final_proj.out_features if use_proj else net.config.hidden_size
    if width != spec.dim:
        raise CheckpointError(f"{spec.name}: {path} gives {width}-d features, its config says {spec.dim}")
    extractor = HubertLikeExtractor(
        spec, net, final_proj if use_proj else None,
        layer=options["layer"],
        device=resolve_device(options["device"]),
        dtype=resolve_dtype(options["dtype"]),
        chunk_seconds=options["chunk_seconds"],
        overlap_seconds=options["overlap_seconds"],
        input_norm_eps=input_norm_eps,
    )
    if options["verify"]:
        extractor.verify()
    return extractor
