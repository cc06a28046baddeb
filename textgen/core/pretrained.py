"""``save_pretrained`` / ``from_pretrained`` for textgen models (transformers-style folders).

A model class opts in by inheriting :class:`PretrainedMixin` and setting two class attributes::

    class SentenceVAE(PretrainedMixin, nn.Module):
        config_class = SentenceVAEConfig   # a dataclass holding every hyper-parameter
        model_type = "sentence-vae"

and keeping its config in ``self.config``. The folder it writes loads with no other arguments:
``SentenceVAE.from_pretrained(folder)`` rebuilds the model from ``config.json`` alone, loads
``model.safetensors`` strictly, loads the tokenizer saved beside it (``model.tokenizer``) and checks
that the tokenizer's vocabulary size matches the model's.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, ClassVar

import torch

from textgen.core.checkpoint import CheckpointError, describe_count, load_weights, read_model_folder, write_model_folder
from textgen.core.config import ConfigError, config_from_dict, config_to_dict
from textgen.core.shipped import DEFAULT_CVAE, DEFAULT_GAN, DEFAULT_VAE, PRETRAINED_MODELS, resolve_model_path

__all__ = ["DEFAULT_CVAE", "DEFAULT_GAN", "DEFAULT_VAE", "PRETRAINED_MODELS", "PretrainedMixin", "resolve_model_path"]


def _check_size(config: Any, state: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse a config.json that asks for far more parameters than the folder's weights hold (a damaged or hostile
    file: ``hidden_size=1e308`` would otherwise try to allocate it), by the estimate the run configs use."""
    estimate = getattr(config, "approx_parameters", None)
    if estimate is None:
        return
    held = sum(v.numel() for v in state.values())
    wanted = int(estimate())
    if wanted > 2 * held + 1_000_000:
        raise CheckpointError(f"{path / 'config.json'} describes a model of {describe_count(wanted)} parameters, but "
                              f"{path / 'model.safetensors'} holds {held:,}; the config does not belong to these weights "
                              "(restore the folder's own config.json, or re-save the model)")


class PretrainedMixin:
    config_class: ClassVar[type]
    model_type: ClassVar[str]
    tokenizer_class: ClassVar[Any] = None    # the Tokenizer class for models that read text; None: images
    config: Any
    tokenizer: Any = None

    def save_pretrained(self, directory: str | os.PathLike, *, tokenizer: Any = None,
                        dtype: torch.dtype | None = None) -> Path:
        """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``directory`` (atomically).

        ``dtype=torch.float16`` halves the file; weights are cast back on load.
        """
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        if tokenizer is not None:
            self._check_vocab(tokenizer, where="save_pretrained")
        return write_model_folder(
            directory,
            model_type=self.model_type,
            config=config_to_dict(self.config),
            state_dict=self.state_dict(),  # type: ignore[attr-defined]
            tokenizer=tokenizer,
            dtype=dtype,
        )

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device: str | torch.device | None = None,
                        dtype: torch.dtype = torch.float32):
        """Rebuild the model from a folder written by :meth:`save_pretrained` (or a shipped short name)."""
        path = resolve_model_path(name_or_path)
        raw_config, state, tokenizer = read_model_folder(path, model_type=cls.model_type,
                                                         tokenizer_class=cls.tokenizer_class)
        try:
            config = config_from_dict(cls.config_class, raw_config)
        except ConfigError as e:
            raise CheckpointError(f"{path / 'config.json'} does not describe a valid {cls.__name__}: {e}") from None
        _check_size(config, state, path)              # before allocating what config.json asks for
        model = cls(config)  # type: ignore[call-arg]
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        load_weights(model, state, path / "model.safetensors")  # type: ignore[arg-type]
        if tokenizer is not None:
            model._check_vocab(tokenizer, where=str(path))
        model.tokenizer = tokenizer
        model.eval()  # type: ignore[attr-defined]
        if device is not None:
            model.to(device)  # type: ignore[attr-defined]
        return model

    def _check_vocab(self, tokenizer: Any, where: str) -> None:
        vocab = getattr(self.config, "vocab_size", None)
        if vocab is not None and tokenizer.vocab_size != vocab:
            raise CheckpointError(
                f"{where}: the tokenizer has {tokenizer.vocab_size} tokens but the model was built for {vocab}; "
                "the tokenizer belongs to another model — save the model with the tokenizer it was trained with"
            )

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)
