"""Hugging Face integration: textgen encoders for ``transformers`` and ``sentence-transformers``.

    from textgen.integrations.hf import export_hf
    export_hf("en-lstm-vae", "hf-en-encoder")            # or: textgen export-hf --out hf-en-encoder

    from transformers import AutoModel, AutoTokenizer, pipeline
    model = AutoModel.from_pretrained("hf-en-encoder", trust_remote_code=True)        # TextgenEncoderModel
    tok = AutoTokenizer.from_pretrained("hf-en-encoder", trust_remote_code=True)      # TextgenTokenizerFast
    model(**tok(["I don't want 5 apples."], return_tensors="pt")).pooler_output       # (1, 64) posterior mean
    pipeline("sentence-embedding", model="hf-en-encoder", trust_remote_code=True)(text)   # the embedding
    pipeline("feature-extraction", model="hf-en-encoder", trust_remote_code=True)(text)   # per-token states
    SentenceTransformer("hf-en-encoder", trust_remote_code=True).encode([text])         # the embedding

An exported folder holds ``config.json`` (with an ``auto_map``, ``custom_pipelines`` and the embedding size),
``model.safetensors``, the tokenizer files, ``modules.json`` + ``sentence_bert_config.json`` for
sentence-transformers, and textgen's own code for all of it (``modeling_textgen.code_files``), so it loads where
textgen is not installed. ``trust_remote_code=True`` is what lets transformers run those files; with textgen
installed, ``import textgen.integrations.hf`` registers the same classes, so ``AutoModel``/``AutoTokenizer`` then
need no remote code (``pipeline`` still asks for it, because the folder declares its own task). The model's
``save_pretrained`` writes the code and the sentence-transformers files too, so a copy saved with
``model.save_pretrained`` + ``tokenizer.save_pretrained``, or with ``SentenceTransformer.save``, is an exported
folder again (with or without textgen installed).

Every route gives the vector :class:`~textgen.SentenceEncoder` gives for the same **raw** string: the exported
tokenizer runs textgen's text preparation (``textgen_textprep.py``, a copy of
:mod:`textgen.tokenization.textprep`) before its ``tokenizer.json``, and truncates to the model's maximum unless
told ``truncation=False``, as ``SentenceEncoder`` does.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.pipelines import PIPELINE_REGISTRY

from textgen.core import __version__
from textgen.core.checkpoint import atomic_folder
from textgen.core.config import config_to_dict
from textgen.integrations.modeling_textgen import EXPORT_FORMAT, MODEL_TYPE, TextgenEncoderConfig, TextgenEncoderModel
from textgen.integrations.pipeline_textgen import SentenceEmbeddingPipeline
from textgen.integrations.tokenization_textgen import TextgenTokenizerFast
from textgen.vae.modeling import SentenceVAE

__all__ = ["TextgenEncoderConfig", "TextgenEncoderModel", "TextgenTokenizerFast", "SentenceEmbeddingPipeline",
           "export_hf", "TASK"]

TASK = "sentence-embedding"


def _register() -> None:
    AutoConfig.register(MODEL_TYPE, TextgenEncoderConfig, exist_ok=True)
    AutoModel.register(TextgenEncoderConfig, TextgenEncoderModel, exist_ok=True)
    AutoTokenizer.register(TextgenEncoderConfig, fast_tokenizer_class=TextgenTokenizerFast, exist_ok=True)
    PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=SentenceEmbeddingPipeline, pt_model=AutoModel,
                                        type="text")


_register()


def export_hf(model: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the encoder of a textgen VAE/AE folder (or shipped name) as a transformers model folder that
    ``AutoModel``/``AutoTokenizer``, ``pipeline`` and ``SentenceTransformer`` load (see the module docstring)."""

    vae = SentenceVAE.from_pretrained(model)
    if vae.config.mode == "lm":
        raise ValueError(f"{model} is a language-model baseline (mode='lm'): it has no encoder to export")
    if vae.config.condition is not None:
        raise ValueError(f"{model} is a conditional VAE: its encoder q(z | x, y) also reads each sentence's "
                         f"{vae.config.condition.column!r}, which a sentence-embedding model cannot take; export a plain "
                         "VAE (e.g. en-lstm-vae), or encode in Python with SentenceVAEPipeline.encode(texts, labels=...)")
    tok = vae.tokenizer
    dim = vae.config.latent_size
    cfg = TextgenEncoderConfig(
        textgen=config_to_dict(vae.config), textgen_version=__version__, textgen_export_format=EXPORT_FORMAT,
        pad_token_id=vae.config.pad_id, bos_token_id=vae.config.bos_id, eos_token_id=vae.config.eos_id,
        embedding_size=dim, projection_dim=dim,      # the sentence embedding's size (projection_dim: for sentence-transformers)
    )
    cfg.auto_map = {"AutoConfig": "modeling_textgen.TextgenEncoderConfig",
                    "AutoModel": "modeling_textgen.TextgenEncoderModel"}
    cfg.custom_pipelines = {TASK: {"impl": "pipeline_textgen.SentenceEmbeddingPipeline", "pt": ["AutoModel"],
                                   "tf": [], "type": "text"}}
    hf_model = TextgenEncoderModel(cfg)
    state = {k: v for k, v in vae.state_dict().items() if k.startswith("encoder.")}
    hf_model.load_state_dict(state, strict=True)
    hf_model.eval()
    limits = [n for n in (tok.max_length, vae.max_positions) if n is not None]   # as SentenceEncoder cuts
    max_length = min(limits) if limits else None
    with atomic_folder(out_dir) as tmp:
        hf_model.save_pretrained(tmp)                  # also the code and sentence-transformers' files
        tok.save(tmp)
        tok_config = json.loads((tmp / "tokenizer_config.json").read_text(encoding="utf-8"))
        tok_config.update(tokenizer_class="TextgenTokenizerFast", textgen_lowercase=tok.lowercase,
                          auto_map={"AutoTokenizer": [None, "tokenization_textgen.TextgenTokenizerFast"]})
        if max_length is not None:
            tok_config["model_max_length"] = max_length
        (tmp / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2), encoding="utf-8")
    return Path(out_dir)

