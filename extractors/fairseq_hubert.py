"""fairseq HuBERT / ContentVec ``.pt`` checkpoints mapped onto transformers' ``HubertModel`` (no fairseq).

The checkpoint is read with the restricted unpickler; its config comes from ``cfg['model']`` (dict or
omegaconf) or the legacy ``args`` namespace. ``final_proj`` is returned separately, since ``HubertModel``
has no such layer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from svcprep.errors import CheckpointError
from svcprep.extractors.checkpoint_io import load_untrusted_checkpoint, to_plain
from svcprep.extractors.limits import check_config_limits
from svcprep.extractors.metadata import parse_fairseq_conv_spec

# (fairseq name prefix, transformers HubertModel prefix); "{i}" stands for a layer index.
FAIRSEQ_TO_HF = [
    ("post_extract_proj.", "feature_projection.projection."),
    ("layer_norm.", "feature_projection.layer_norm."),
    ("mask_emb", "masked_spec_embed"),
    ("feature_extractor.conv_layers.{i}.0.", "feature_extractor.conv_layers.{i}.conv."),
    ("feature_extractor.conv_layers.{i}.2.1.", "feature_extractor.conv_layers.{i}.layer_norm."),  # layer_norm mode
    ("feature_extractor.conv_layers.0.2.", "feature_extractor.conv_layers.0.layer_norm."),  # default (group) mode
    ("encoder.pos_conv.0.weight_g", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    ("encoder.pos_conv.0.weight_v", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    ("encoder.pos_conv.0.bias", "encoder.pos_conv_embed.conv.bias"),
    ("encoder.layers.{i}.self_attn.", "encoder.layers.{i}.attention."),
    ("encoder.layers.{i}.self_attn_layer_norm.", "encoder.layers.{i}.layer_norm."),
    ("encoder.layers.{i}.fc1.", "encoder.layers.{i}.feed_forward.intermediate_dense."),
    ("encoder.layers.{i}.fc2.", "encoder.layers.{i}.feed_forward.output_dense."),
    ("encoder.layers.{i}.final_layer_norm.", "encoder.layers.{i}.final_layer_norm."),
    ("encoder.layer_norm.", "encoder.layer_norm."),
]
_IGNORED = re.compile(r"^(label_embs_concat|label_embs|final_proj\..*)$")


def _rename(key: str, pairs) -> str | None:
    for source, target in pairs:
        m = re.match(re.escape(source).replace(r"\{i\}", r"(\d+)"), key)
        if m:
            renamed = target.replace("{i}", m.group(1)) if m.groups() else target
            return renamed + key[m.end():]
    return None


def rename_fairseq_key(key: str) -> str | None:
    """transformers name of a fairseq HuBERT tensor, or None when it has no counterpart."""
    return _rename(key, FAIRSEQ_TO_HF)


def rename_hubert_key(key: str) -> str | None:
    """fairseq name of a transformers HubertModel tensor (group-norm extractor).

    Rows are tried last-first so that conv layer 0's GroupNorm maps to fairseq's ``conv_layers.0.2``.
    """
    return _rename(key, [(hf, fs) for fs, hf in reversed(FAIRSEQ_TO_HF)])


def fairseq_model_config(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    cfg = to_plain(checkpoint.get("cfg"))
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        return cfg["model"]
    args = to_plain(checkpoint.get("args"))
    if isinstance(args, dict) and args:
        return args
    raise CheckpointError(f"{path}: no model config (neither cfg['model'] nor args); not a fairseq checkpoint?")


def read_fairseq_config(path: Path) -> dict[str, Any]:
    """The frame grid and widths of a fairseq HuBERT/ContentVec ``.pt``, in transformers' config keys."""
    checkpoint = _read_checkpoint(path)
    if "feature_extractor.conv_layers.0.0.weight" not in checkpoint["model"]:
        raise CheckpointError(f"{path}: no feature_extractor.conv_layers tensors; not a HuBERT/ContentVec checkpoint")
    config = hubert_config_from_fairseq(fairseq_model_config(checkpoint, path), path)
    proj = checkpoint["model"].get("final_proj.weight")
    return {"sampling_rate": 16000, "conv_kernel": list(config.conv_kernel), "conv_stride": list(config.conv_stride),
            "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
            "proj_dim": int(proj.shape[0]) if proj is not None else None}


def _read_checkpoint(path: Path) -> dict[str, Any]:
    checkpoint = load_untrusted_checkpoint(path)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise CheckpointError(f"{path}: expected a fairseq checkpoint dict with a 'model' state dict")
    if not all(isinstance(v, torch.Tensor) for v in checkpoint["model"].values()):
        raise CheckpointError(f"{path}: 'model' holds non-tensor entries; refusing to load")
    return checkpoint


def hubert_config_from_fairseq(model_cfg: dict[str, Any], path: Path):
    from transformers import HubertConfig

    mode = model_cfg.get("extractor_mode", "default")
    if mode not in ("default", "layer_norm"):
        raise CheckpointError(f"{path}: unsupported extractor_mode {mode!r}")
    conv_text = model_cfg.get("conv_feature_layers", "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2")
    conv = parse_fairseq_conv_spec(conv_text)
    activation = model_cfg.get("activation_fn", "gelu")

    sizes = {"hidden_size": model_cfg.get("encoder_embed_dim", 768), "num_hidden_layers": model_cfg.get(
        "encoder_layers", 12), "num_attention_heads": model_cfg.get("encoder_attention_heads", 12),
        "intermediate_size": model_cfg.get("encoder_ffn_embed_dim", 3072),
        "num_conv_pos_embeddings": model_cfg.get("conv_pos", 128),
        "num_conv_pos_embedding_groups": model_cfg.get("conv_pos_groups", 16),
        "conv_dim": [d for d, _, _ in conv], "conv_kernel": [k for _, k, _ in conv],
        "conv_stride": [s for _, _, s in conv]}
    check_config_limits(sizes, str(path))
    return HubertConfig(
        hidden_size=int(model_cfg.get("encoder_embed_dim", 768)),
        num_hidden_layers=int(model_cfg.get("encoder_layers", 12)),
        num_attention_heads=int(model_cfg.get("encoder_attention_heads", 12)),
        intermediate_size=int(model_cfg.get("encoder_ffn_embed_dim", 3072)),
        hidden_act=activation,
        conv_dim=[d for d, _, _ in conv],
        conv_kernel=[k for _, k, _ in conv],
        conv_stride=[s for _, _, s in conv],
        conv_bias=bool(model_cfg.get("conv_bias", False)),
        num_conv_pos_embeddings=int(model_cfg.get("conv_pos", 128)),
        num_conv_pos_embedding_groups=int(model_cfg.get("conv_pos_groups", 16)),
        feat_extract_norm="group" if mode == "default" else "layer",
        do_stable_layer_norm=bool(model_cfg.get("layer_norm_first", False)),
        feat_proj_layer_norm=True,
        layer_norm_eps=1e-5,
        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
        layerdrop=0.0, apply_spec_augment=False,
    )


def fairseq_normalizes_input(checkpoint: dict[str, Any]) -> bool:
    """The task's ``normalize`` flag: fairseq then feeds ``F.layer_norm(wav, wav.shape)`` to the model."""
    cfg = to_plain(checkpoint.get("cfg"))
    if isinstance(cfg, dict) and isinstance(cfg.get("task"), dict):
        return bool(cfg["task"].get("normalize", False))
    args = to_plain(checkpoint.get("args"))
    return bool(args.get("normalize", False)) if isinstance(args, dict) else False


def load_fairseq_hubert(path: Path) -> tuple[torch.nn.Module, torch.nn.Linear | None, bool]:
    """(HubertModel, final_proj or None, whether the task normalizes input) from a fairseq HuBERT/ContentVec ``.pt``."""
    from transformers import HubertModel

    checkpoint = _read_checkpoint(path)
    state = checkpoint["model"]
    model_cfg = fairseq_model_config(checkpoint, path)
    config = hubert_config_from_fairseq(model_cfg, path)
    model = HubertModel(config)
    mapped, unknown = {}, []
    for key, tensor in state.items():
        new_key = rename_fairseq_key(key)
        if new_key is not None:
            mapped[new_key] = tensor
        elif not _IGNORED.match(key):
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{path}: unexpected tensors for a HuBERT model: {', '.join(unknown[:8])}")
    if "feature_projection.projection.weight" not in mapped:
        # fairseq has no post_extract_proj when conv and model widths match: an identity projection.
        width = config.hidden_size
        mapped["feature_projection.projection.weight"] = torch.eye(width)
        mapped["feature_projection.projection.bias"] = torch.zeros(width)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if k != "masked_spec_embed"]
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: checkpoint does not match its config: missing {missing[:6]}, unexpected {unexpected[:6]}"
        )
    final_proj = None
    if "final_proj.weight" in state:
        w = state["final_proj.weight"]
        final_proj = torch.nn.Linear(w.shape[1], w.shape[0])
        final_proj.load_state_dict({"weight": w, "bias": state["final_proj.bias"]})
    return model.eval(), final_proj, fairseq_normalizes_input(checkpoint)
