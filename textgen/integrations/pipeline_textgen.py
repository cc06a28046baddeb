"""``SentenceEmbeddingPipeline``: the ``sentence-embedding`` task for exported textgen encoders.

Self-contained like ``modeling_textgen.py``: ``textgen export-hf`` copies it beside the weights and names it
under ``custom_pipelines`` in ``config.json``, so that

    pipeline("sentence-embedding", model=folder, trust_remote_code=True)

works where textgen is not installed; ``import textgen.integrations.hf`` registers the same class.
"""
from __future__ import annotations

import torch
from transformers import Pipeline

__all__ = ["SentenceEmbeddingPipeline"]


class SentenceEmbeddingPipeline(Pipeline):
    """One vector per input text: the encoder's posterior mean (``pooler_output``).

    ``pipe("a sentence")`` -> list of floats; ``pipe(["a", "b"])`` -> list of lists; ``normalize=True``
    scales each vector to unit length. (The stock ``feature-extraction`` task returns per-token states.)
    """

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False

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
