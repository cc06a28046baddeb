"""Hugging Face ``transformers`` integration: textgen encoders as ``AutoModel`` s and pipelines.

    import textgen.integrations.hf                 # registers the classes below (imports transformers)
    from textgen.integrations.hf import export_hf

    export_hf("en-lstm-vae", "hf/en-encoder")    # or: textgen export-hf --model DIR --out hf/en-encoder

    from transformers import AutoModel, AutoTokenizer, pipeline
    model = AutoModel.from_pretrained("hf/ptb-encoder")          # TextgenEncoderModel
    tok = AutoTokenizer.from_pretrained("hf/ptb-encoder")
    model(**tok(["the market fell"], return_tensors="pt")).pooler_output    # (1, 32) posterior mean
    pipeline("feature-extraction", model="hf/ptb-encoder")("the market fell")   # per-token states
    pipeline("sentence-embedding", model="hf/ptb-encoder")("the market fell")   # the embedding itself

An exported folder holds ``config.json`` (with an ``auto_map``), ``model.safetensors``, the tokenizer
files, and the modeling code (``modeling_textgen.py`` + ``textgen_encoders.py``), so it also loads with
``trust_remote_code=True`` where textgen is not installed.

Text goes through the exported tokenizer as is (whitespace words, lowercased if the model's tokenizer
lowercases). ``SentenceEncoder`` additionally normalises raw text PTB-style (``"don't"`` -> ``do n't``);
for text already in the model's style the two give the same embeddings.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from textgen.core import __version__
from textgen.core.checkpoint import atomic_folder
from textgen.core.config import config_to_dict
from textgen.integrations.modeling_textgen import EXPORT_FORMAT, MODEL_TYPE, TextgenEncoderConfig, TextgenEncoderModel
from textgen.vae import encoders as encoders_module
from textgen.vae.modeling import SentenceVAE

__all__ = ["TextgenEncoderConfig", "TextgenEncoderModel", "SentenceEmbeddingPipeline", "export_hf", "TASK"]

TASK = "sentence-embedding"
MODELING_FILE = "modeling_textgen.py"
ENCODERS_FILE = "textgen_encoders.py"


class SentenceEmbeddingPipeline(Pipeline):
    """One vector per input text: the encoder's posterior mean (``pooler_output``).

    ``pipe("a sentence")`` -> list of floats; ``pipe(["a", "b"])`` -> list of lists; ``normalize=True``
    scales each vector to unit length. (The stock ``feature-extraction`` task returns per-token states.)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        expected = (getattr(self.model.config, "textgen", None) or {}).get("vocab_size")
        if expected is not None and self.tokenizer is not None and len(self.tokenizer) != expected:
            raise ValueError(f"the tokenizer has {len(self.tokenizer)} tokens but the model was trained with {expected}; "
                             "load the tokenizer saved in the same exported folder")

    def _sanitize_parameters(self, normalize=None, **kwargs):
        return {}, {}, ({} if normalize is None else {"normalize": bool(normalize)})

    def preprocess(self, inputs, **kwargs):
        if not isinstance(inputs, str):
            raise TypeError(f"expected a string, got {type(inputs).__name__}")
        return self.tokenizer(inputs, return_tensors="pt", truncation=True)

    def _forward(self, model_inputs):
        return self.model(input_ids=model_inputs["input_ids"], attention_mask=model_inputs.get("attention_mask"))

    def postprocess(self, model_outputs, normalize: bool = False):
        emb = model_outputs.pooler_output[0].float()                                  # (Z,)
        if normalize:
            emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb.tolist()


def _register() -> None:
    AutoConfig.register(MODEL_TYPE, TextgenEncoderConfig, exist_ok=True)
    AutoModel.register(TextgenEncoderConfig, TextgenEncoderModel, exist_ok=True)
    PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=SentenceEmbeddingPipeline, pt_model=AutoModel,
                                        type="text")


_register()


def export_hf(model: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the encoder of a textgen VAE/AE folder (or shipped name) as a transformers model folder."""

    vae = SentenceVAE.from_pretrained(model)
    if vae.config.mode == "lm":
        raise ValueError(f"{model} is a language-model baseline (mode='lm'): it has no encoder to export")
    cfg = TextgenEncoderConfig(
        textgen=config_to_dict(vae.config), textgen_version=__version__, textgen_export_format=EXPORT_FORMAT,
        pad_token_id=vae.config.pad_id, bos_token_id=vae.config.bos_id, eos_token_id=vae.config.eos_id,
    )
    cfg.auto_map = {"AutoConfig": f"{MODELING_FILE[:-3]}.TextgenEncoderConfig",
                    "AutoModel": f"{MODELING_FILE[:-3]}.TextgenEncoderModel"}
    hf_model = TextgenEncoderModel(cfg)
    state = {k: v for k, v in vae.state_dict().items() if k.startswith("encoder.")}
    hf_model.load_state_dict(state, strict=True)
    hf_model.eval()
    with atomic_folder(out_dir) as tmp:
        hf_model.save_pretrained(tmp)
        vae.tokenizer.save(tmp)
        here = Path(__file__).resolve().parent
        shutil.copyfile(here / MODELING_FILE, tmp / MODELING_FILE)
        shutil.copyfile(Path(encoders_module.__file__), tmp / ENCODERS_FILE)
    return Path(out_dir)
