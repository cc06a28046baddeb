"""Which config class each folder of ``configs/`` uses: ``configs/<kind>/*.yaml`` -> class.

The classes are the families' own (torch-free) configuration modules, so this import stays light.
"""
from __future__ import annotations

import os
from pathlib import Path

from textgen.core.config import ConfigError, TokenizerRunConfig
from textgen.gan.configuration import GANRunConfig
from textgen.vae.configuration import VAERunConfig

__all__ = ["CONFIG_SCHEMAS", "config_schema", "schema_for_path"]

CONFIG_SCHEMAS: dict[str, type] = {"tokenizer": TokenizerRunConfig, "vae": VAERunConfig, "gan": GANRunConfig}


def config_schema(kind: str) -> type:
    """The config class for a kind of run (``tokenizer``, ``vae`` ...)."""
    if kind not in CONFIG_SCHEMAS:
        raise ConfigError(f"unknown config kind {kind!r}; choose one of {', '.join(sorted(CONFIG_SCHEMAS))}")
    return CONFIG_SCHEMAS[kind]


def schema_for_path(path: str | os.PathLike) -> type:
    """Infer the schema from the folder a config file sits in (``configs/vae/x.yaml`` -> ``vae``)."""
    kind = Path(path).parent.name
    if kind not in CONFIG_SCHEMAS:
        raise ConfigError(
            f"cannot tell which schema {path} uses from its folder {kind!r}; "
            f"put it under configs/<kind>/ with kind one of {', '.join(sorted(CONFIG_SCHEMAS))}, or pass --kind"
        )
    return config_schema(kind)
