"""transformers classes for textgen sentence encoders: ``TextgenEncoderConfig`` and ``TextgenEncoderModel``.

This file is self-contained on purpose: ``textgen export-hf`` copies it, unchanged, beside the exported
weights together with the rest of the folder's code (``code_files``: ``textgen_encoders.py`` is a copy of
``textgen/vae/encoders.py``), and writes an ``auto_map`` into ``config.json``, so that

    AutoModel.from_pretrained(folder, trust_remote_code=True)

works in a process where textgen is not installed (transformers' remote-code convention). With textgen
installed, ``import textgen.integrations.hf`` registers the same classes with ``AutoConfig`` /
``AutoModel`` and no remote code is needed. ``save_pretrained`` writes that code and sentence-transformers'
files again, so a saved copy is an exported folder too.

The model's forward returns ``BaseModelOutputWithPooling``: ``pooler_output`` is the posterior mean
E[z|x] (B, Z), the sentence embedding; ``last_hidden_state`` holds the encoder's per-token states.
Inputs are what the exported tokenizer gives: the sentence's ids followed by ``<eos>``, right-padded,
with an attention mask.
"""
from __future__ import annotations

import inspect
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import torch
import torch.nn as nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

# The model names the folder's other code too: transformers fetches a remote model's relative imports with it and
# copies them on save_pretrained, so a saved copy keeps the tokenizer and the pipeline.
try:  # beside exported weights (remote code): the copied modules
    from .pipeline_textgen import SentenceEmbeddingPipeline
    from .textgen_encoders import build_encoder
    from .tokenization_textgen import TextgenTokenizerFast
except ImportError:  # inside the textgen package
    from textgen.integrations.pipeline_textgen import SentenceEmbeddingPipeline
    from textgen.integrations.tokenization_textgen import TextgenTokenizerFast
    from textgen.vae.encoders import build_encoder

MODEL_TYPE = "textgen-sentence-encoder"
EXPORT_FORMAT = 1  # bump when the layout of exported folders changes

# sentence-transformers' files: one Transformer module whose output is the posterior mean (pooler_output) itself,
# so SentenceTransformer(folder) needs no pooling layer; it truncates to the tokenizer's model_max_length.
SENTENCE_TRANSFORMERS_FILES = {
    "modules.json": [{"idx": 0, "name": "0", "path": "",
                      "type": "sentence_transformers.base.modules.transformer.Transformer"}],
    "sentence_bert_config.json": {
        "transformer_task": "feature-extraction",
        "modality_config": {"text": {"method": "forward", "method_output_name": "pooler_output"}},
        "module_output_name": "sentence_embedding",
    },
    "config_sentence_transformers.json": {"model_type": "SentenceTransformer", "similarity_fn_name": "cosine"},
}


def code_files() -> dict[str, Path]:
    """The code an exported folder carries: its name there -> the file this process runs it from (textgen's own
    modules, or the copies transformers made of an exported folder's)."""
    tokenization = sys.modules[TextgenTokenizerFast.__module__]
    return {
        "modeling_textgen.py": Path(__file__),                                       # the model classes
        "textgen_encoders.py": Path(inspect.getfile(build_encoder)),                 # the encoders they build
        "tokenization_textgen.py": Path(tokenization.__file__),                      # the tokenizer class
        "textgen_textprep.py": Path(inspect.getfile(tokenization.prepare_for_tokenizer)),  # its text preparation
        "pipeline_textgen.py": Path(inspect.getfile(SentenceEmbeddingPipeline)),     # the sentence-embedding task
    }


class TextgenEncoderConfig(PretrainedConfig):
    """``textgen``: every field of the textgen ``SentenceVAEConfig`` the encoder was trained with."""

    model_type = MODEL_TYPE
    textgen: Optional[dict] = None
    textgen_version: Optional[str] = None
    textgen_export_format: Optional[int] = None
    embedding_size: Optional[int] = None    # size of one sentence embedding (pooler_output): the latent size
    projection_dim: Optional[int] = None    # the same number, where sentence-transformers looks for it


class TextgenEncoderModel(PreTrainedModel):
    """The encoder q(z|x) of a textgen sentence VAE (or auto-encoder)."""

    config_class = TextgenEncoderConfig
    base_model_prefix = "textgen"
    main_input_name = "input_ids"

    def __init__(self, config: TextgenEncoderConfig):
        super().__init__(config)
        if not config.textgen:
            raise ValueError("this config has no 'textgen' section; export the folder with `textgen export-hf`")
        if config.textgen_export_format != EXPORT_FORMAT:
            raise ValueError(f"this folder was exported in textgen export format {config.textgen_export_format} "
                             f"(textgen {config.textgen_version}); this code reads format {EXPORT_FORMAT}. Re-export "
                             "it with this textgen: textgen export-hf --model MODEL_DIR --out HF_DIR")
        c = SimpleNamespace(**config.textgen)
        self.pad_id = c.pad_id
        embedding = nn.Embedding(c.vocab_size, c.embed_size, padding_idx=c.pad_id)
        self.encoder = build_encoder(c, embedding)                                  # owns the embedding
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Weights always come from an exported checkpoint; nothing to initialise here.
        return

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also write the code and sentence-transformers' files, so that a saved copy loads on every route where
        textgen is not installed: transformers copies a model's code only when it ran as remote code, and knows
        nothing of sentence-transformers. Written first, so that ``push_to_hub=True`` uploads them too; the
        sentence-transformers files only where missing, as ``SentenceTransformer.save`` writes its own."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        for name, source in code_files().items():
            shutil.copyfile(source, folder / name)
        for name, content in SENTENCE_TRANSFORMERS_FILES.items():
            if not (folder / name).exists():
                (folder / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
        super().save_pretrained(save_directory, *args, **kwargs)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embedding

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                **kwargs) -> BaseModelOutputWithPooling:
        if attention_mask is None:
            attention_mask = (input_ids != self.pad_id).long()
        if bool((attention_mask[:, 0] == 0).any() & (attention_mask[:, -1] == 1).any()):
            raise ValueError("left padding is not supported: the encoder reads each sentence from its first token; "
                             "pad on the right (tokenizer.padding_side = 'right')")
        lengths = attention_mask.sum(-1).to("cpu")                                   # (B,) right padding
        if bool((lengths < 1).any()):
            raise ValueError("every row needs at least one token (the tokenizer appends <eos>)")
        T = int(lengths.max())
        mu, _, states = self.encoder(input_ids[:, :T], lengths, return_states=True)  # (B, Z), (B, T, H)
        return BaseModelOutputWithPooling(last_hidden_state=states, pooler_output=mu)
