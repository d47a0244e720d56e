"""Tiny random-weight models saved in the real on-disk formats, for the demo and the tests.

Their features are meaningless (random weights); their file formats, configs and frame grids are real:
transformers dirs via ``save_pretrained``, a fairseq-structured ContentVec ``.pt``, a Meta-style
Encodec ``.th`` state dict and a Music-Source-Separation-Training ``.ckpt`` with its YAML.
"""

from __future__ import annotations

import argparse
import json
import pickle
import types
from pathlib import Path

import torch

from svcprep.extractors.base import quiet_transformers
from svcprep.extractors.fairseq_hubert import rename_hubert_key
from svcprep.pitch.rmvpe_model import E2E
from svcprep.separation.loading import build_network
from svcprep.separation.msst_config import separator_config

TINY_SPEECH = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                   conv_dim=[16] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)


def save_whisper(out: Path, seed: int = 0) -> Path:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    quiet_transformers()
    config = WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                           max_source_positions=1500, max_target_positions=32, vocab_size=100, pad_token_id=1,
                           bos_token_id=2, eos_token_id=3, decoder_start_token_id=2)
    torch.manual_seed(seed)
    WhisperModel(config).save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(out)
    return out


def save_speech_model(out: Path, family: str, seed: int = 0, **overrides) -> Path:
    """A tiny transformers HuBERT / WavLM / wav2vec2 dir (conv grid as the real base models: 320 @ 16 kHz)."""
    from transformers import (
        HubertConfig,
        HubertModel,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
        WavLMConfig,
        WavLMModel,
    )

    quiet_transformers()
    classes = {"hubert": (HubertConfig, HubertModel), "wavlm": (WavLMConfig, WavLMModel),
               "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model)}
    config_cls, model_cls = classes[family]
    extra = dict(num_buckets=16, max_bucket_distance=100) if family == "wavlm" else {}
    torch.manual_seed(seed)
    model_cls(config_cls(**{**TINY_SPEECH, **extra, **overrides})).save_pretrained(out)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(out)
    return out


def save_contentvec_dir(out: Path, seed: int = 0, proj_dim: int = 8) -> Path:
    """A content-vec-best style dir: a HubertModel plus a top-level ``final_proj`` in the weights."""
    from safetensors.torch import load_file, save_file

    save_speech_model(out, "hubert", seed)
    weights = load_file(out / "model.safetensors")
    torch.manual_seed(seed + 1)
    proj = torch.nn.Linear(TINY_SPEECH["hidden_size"], proj_dim)
    weights["final_proj.weight"], weights["final_proj.bias"] = proj.weight.detach(), proj.bias.detach()
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config["classifier_proj_size"] = proj_dim
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


_MERT_CODE = '''
from transformers import HubertConfig, HubertModel


class MERTConfig(HubertConfig):
    model_type = "mert_model"

    def __init__(self, sample_rate=24000, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate


class MERTModel(HubertModel):
    config_class = MERTConfig
'''


def save_mert(out: Path, seed: int = 0) -> Path:
    """A MERT-v1-like dir: custom model code (``auto_map``), 24 kHz under the non-standard ``sample_rate`` key."""
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    quiet_transformers()
    out.mkdir(parents=True, exist_ok=True)
    (out / "modeling_mert.py").write_text(_MERT_CODE, encoding="utf-8")
    torch.manual_seed(seed)
    HubertModel(HubertConfig(**TINY_SPEECH)).save_pretrained(out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config.update(model_type="mert_model", architectures=["MERTModel"], sample_rate=24000,
                  auto_map={"AutoConfig": "modeling_mert.MERTConfig", "AutoModel": "modeling_mert.MERTModel"})
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    Wav2Vec2FeatureExtractor(sampling_rate=24000).save_pretrained(out)
    return out


def save_encodec(out: Path, seed: int = 0, stereo: bool = False) -> Path:
    from transformers import EncodecConfig, EncodecModel

    quiet_transformers()
    if stereo:
        config = EncodecConfig(num_filters=4, hidden_size=16, upsampling_ratios=[8, 5, 4, 2],
                               norm_type="time_group_norm", use_causal_conv=False, normalize=True,
                               chunk_length_s=1.0, overlap=0.01, audio_channels=2, codebook_size=64,
                               sampling_rate=48000, target_bandwidths=[3.0, 6.0, 12.0, 24.0])
    else:
        config = EncodecConfig(num_filters=4, hidden_size=16, upsampling_ratios=[8, 5, 4, 2], codebook_size=64,
                               sampling_rate=24000, target_bandwidths=[1.5, 3.0, 6.0])
    torch.manual_seed(seed)
    EncodecModel(config).save_pretrained(out)
    return out


class ForeignObject:
    """An instance of class ``module.name`` as a pickle stores it (class reference, then ``state``), written
    without that class existing here: what fairseq's own objects look like inside a real checkpoint."""

    def __init__(self, module: str, name: str, state: dict) -> None:
        self.module, self.name, self.state = module, name, state


class _ForeignPickler(pickle._Pickler):
    """The pure-Python pickler, writing :class:`ForeignObject` as ``module.name`` + ``__setstate__``."""

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, ForeignObject):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
            super().save(obj.state)
            self.write(pickle.BUILD)
            return
        super().save(obj, save_persistent_id)


foreign_class_pickle = types.SimpleNamespace(Pickler=_ForeignPickler, __name__="foreign_class_pickle")


def fairseq_state_from_hubert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a transformers HubertModel state dict (group-norm extractor) back to fairseq's names."""

    return {rename_hubert_key(key) or key: value for key, value in state.items()}


def save_fairseq_contentvec(out: Path, seed: int = 0, proj_dim: int = 8, legacy_args: bool = False,
                            hidden_size: int = 32, layers: int = 2) -> Path:
    """A fairseq-structured ContentVec/HuBERT ``.pt``: ``cfg`` (or legacy ``args`` Namespace), ``model``,
    ``task_state`` holding a pickled ``fairseq.data.dictionary.Dictionary`` (a class the loader never imports)."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(seed)
    hf = HubertModel(HubertConfig(**{**TINY_SPEECH, "hidden_size": hidden_size, "num_hidden_layers": layers})).eval()
    state = fairseq_state_from_hubert({k: v.detach().clone() for k, v in hf.state_dict().items()})
    proj = torch.nn.Linear(hidden_size, proj_dim)
    state["final_proj.weight"], state["final_proj.bias"] = proj.weight.detach(), proj.bias.detach()
    state["label_embs_concat"] = torch.randn(104, proj_dim)
    model_cfg = {
        "_name": "hubert", "extractor_mode": "default", "encoder_layers": layers, "encoder_embed_dim": hidden_size,
        "encoder_ffn_embed_dim": 64, "encoder_attention_heads": 2, "activation_fn": "gelu",
        "conv_feature_layers": "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2", "conv_bias": False,
        "conv_pos": 16, "conv_pos_groups": 4, "layer_norm_first": False, "final_dim": proj_dim,
    }
    checkpoint = {
        "args": argparse.Namespace(**model_cfg) if legacy_args else None,
        "cfg": None if legacy_args else {"model": model_cfg, "task": {"_name": "hubert_pretraining"}},
        "model": state,
        "task_state": {"dictionaries": [ForeignObject("fairseq.data.dictionary", "Dictionary", {
            "symbols": ["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(100)]})]},
        "optimizer_history": [{"num_updates": 0}],
        "extra_state": {},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, out, pickle_module=foreign_class_pickle)
    return out


def save_rmvpe(out: Path, seed: int = 0, full_size: bool = False, wrapped: bool = False) -> Path:
    """An RMVPE checkpoint in the real key layout: RVC's plain state dict, or (``wrapped``) so-vits-svc's and
    DDSP-SVC's ``{"model": state_dict}`` with their unused ``unet.tf.*`` tensors. ``full_size``: the published
    E2E(4, 1, (2, 2)) shapes (741 tensors, 90 M parameters); else a narrow one. Random weights and BatchNorm
    statistics (so that a loader ignoring them would differ)."""

    torch.manual_seed(seed)
    net = E2E(5, 4, 4, 16, 1) if full_size else E2E(5, 2, 1, 4, 1, gru_hidden=256)
    generator = torch.Generator().manual_seed(seed + 1000)
    state = net.state_dict()
    for key, value in state.items():
        if key.endswith("running_mean"):
            state[key] = 0.1 * torch.randn(value.shape, generator=generator)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=generator)
    if wrapped:
        state = {"model": {**state, **{f"unet.tf.layer{i}.weight": torch.zeros(2, 2) for i in range(60)}}}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out)
    return out


# The published BS-RoFormers' split of 1025 bins into 62 bands (a fact of their configs).
PUBLISHED_FREQS_PER_BANDS = (2,) * 24 + (4,) * 12 + (12,) * 8 + (24,) * 8 + (48,) * 8 + (128, 129)


def separator_yaml(architecture: str = "bs_roformer", dim: int = 32, depth: int = 1, target: str = "vocals",
                   chunk_size: int = 44100, num_overlap: int = 2) -> str:
    """A Music-Source-Separation-Training config in the published format (``audio``, ``model``, ``training``,
    ``inference``; band splits as ``!!python/tuple``), 44.1 kHz stereo, STFT 2048 / 441."""
    import yaml

    model = {"dim": dim, "depth": depth, "stereo": True, "num_stems": 1, "time_transformer_depth": 1,
             "freq_transformer_depth": 1, "dim_head": 16, "heads": 2, "attn_dropout": 0.0, "ff_dropout": 0.0,
             "flash_attn": True, "dim_freqs_in": 1025, "stft_n_fft": 2048, "stft_hop_length": 441,
             "stft_win_length": 2048, "stft_normalized": False, "mask_estimator_depth": 2,
             "multi_stft_resolution_loss_weight": 1.0, "multi_stft_resolutions_window_sizes": (4096, 2048, 1024, 512,
                                                                                               256),
             "multi_stft_hop_size": 147, "multi_stft_normalized": False}
    if architecture == "bs_roformer":
        model.update(freqs_per_bands=PUBLISHED_FREQS_PER_BANDS, linear_transformer_depth=0)
    else:
        model.update(num_bands=8, sample_rate=44100)
    config = {"audio": {"chunk_size": chunk_size, "n_fft": 2048, "hop_length": 441, "num_channels": 2,
                        "sample_rate": 44100, "min_mean_abs": 0.0},
              "model": model,
              "training": {"batch_size": 1, "instruments": [target, "other"], "target_instrument": target,
                           "use_amp": True},
              "inference": {"batch_size": 2, "num_overlap": num_overlap}}

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(tuple, lambda dumper, value: dumper.represent_sequence(
        "tag:yaml.org,2002:python/tuple", value))
    return yaml.dump(config, Dumper=Dumper, sort_keys=False)


def save_separator(out: Path, architecture: str = "bs_roformer", seed: int = 0, **config) -> Path:
    """A tiny random-weight separator as users receive one: ``out`` (a ``.ckpt``: the model's state dict) and the
    ``.yaml`` beside it. Returns the checkpoint's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    config_path = out.with_suffix(".yaml")
    config_path.write_text(separator_yaml(architecture, **config), encoding="utf-8")
    torch.manual_seed(seed)
    torch.save(build_network(separator_config(config_path)).state_dict(), out)
    return out
