"""Strict dataclass configs loaded from YAML, with ``key=value`` command-line overrides.

Every run of textgen is described by one dataclass tree (for example
:class:`TokenizerRunConfig`). It is loaded from a YAML file in ``configs/`` and
then patched by overrides such as ``train.lr=3e-4 model.latent_size=32``::

    cfg = load_config(TokenizerRunConfig, "configs/tokenizer/ptb_word.yaml",
                      overrides=["tokenizer.min_freq=2"])
    save_config(cfg, run_dir / "config.yaml")   # the resolved config, saved with the run

Strictness (torchtune / litgpt style): an unknown key, a value of the wrong type or an
impossible value raises :class:`ConfigError`, naming the key and what is allowed.
Types understood: ``int``, ``float``, ``bool``, ``str``, ``Literal[...]``,
``Optional[...]``, ``list[...]``, ``tuple[...]``, ``dict[str, ...]`` and nested dataclasses.
Each dataclass may define ``validate(self)`` for checks across fields; it is called
after loading and should raise ``ConfigError`` through :func:`check`.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, Optional, Sequence, TypeVar

import yaml

from textgen.core.files import atomic_write_text

T = TypeVar("T")

__all__ = [
    "ConfigError",
    "check",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
    "parse_overrides",
    "apply_overrides",
    "TokenizerConfig",
    "DataConfig",
    "RuntimeConfig",
    "TokenizerRunConfig",
]


class ConfigError(ValueError):
    """A config key is unknown, has the wrong type, or an impossible value."""


def check(condition: bool, key: str, message: str) -> None:
    """Raise ``ConfigError("<key>: <message>")`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{key}: {message}")


# ----------------------------------------------------------------------------- typing

def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it (possibly converted)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    if tp is Any:
        return value
    if _is_union(tp):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{key}: {value!r} is not allowed; choose one of {allowed}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping for section {tp.__name__}, got {value!r}")
        return config_from_dict(tp, value, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads "3e-4" as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):           # .inf, 1e999 (which YAML reads as inf) and .nan
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if origin in (list, Sequence) or tp is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        vt = args[1] if args else Any
        return {str(k): _coerce(v, vt, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"config field {key} has an unsupported annotation {tp!r}")


# ----------------------------------------------------------------------------- dict <-> dataclass

def config_from_dict(cls: type[T], data: Mapping[str, Any] | None, *, prefix: str = "") -> T:
    """Build the dataclass ``cls`` from ``data``, strictly (see module docstring)."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for old, why in getattr(cls, "REMOVED_KEYS", {}).items():   # keys of older versions, still in saved runs
        if old in data:
            if data.pop(old):
                raise ConfigError(f"'{prefix}{old}' was removed: {why}")
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(str(k), fields, n=1)
        hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
        raise ConfigError(
            f"unknown key '{prefix}{k}' in {cls.__name__}{hint}; "
            f"allowed keys: {', '.join(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{prefix}{name}")
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing required key(s) {', '.join(prefix + m for m in missing)} in {cls.__name__}")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError as e:
            # validate() names keys relative to its own section; make them absolute.
            raise ConfigError(f"{prefix}{e}" if prefix and not str(e).startswith(prefix) else str(e)) from None
    return obj


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-Python (YAML/JSON serialisable) view of a config dataclass."""
    def convert(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: convert(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [convert(x) for x in v]
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        return v
    return convert(cfg)


# ----------------------------------------------------------------------------- overrides

def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["train.lr=3e-4", "model.rnn=gru"]`` -> ``{"train": {"lr": 0.0003}, "model": {"rnn": "gru"}}``.

    Values are parsed as YAML, so ``null``, ``true``, ``[1, 2]`` and numbers work.
    """
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"override {item!r} is not of the form key=value (for example train.lr=3e-4)"
            )
        key, raw = item.split("=", 1)
        key = key.strip().lstrip("-")
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str):
            try:  # YAML 1.1 reads 3e-4 as a string; numbers should be numbers
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        node = nested
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {p}")
        node[parts[-1]] = value
    return nested


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into ``data`` (a new dict; inputs are not modified)."""
    out = dict(data)
    for k, v in overrides.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = apply_overrides(out[k], v)
        else:
            out[k] = v
    return out


# ----------------------------------------------------------------------------- files

def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> T:
    """Load ``cls`` from a YAML file (or defaults when ``path`` is None) plus overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist; pass a YAML file such as configs/vae/ptb_lstm.yaml")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{p} is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
        try:
            loaded = yaml.load(text, Loader=_StrictLoader)   # noqa: S506 - a SafeLoader that refuses duplicate keys
        except ConfigError as e:
            raise ConfigError(f"{p}: {e}") from None
        except yaml.YAMLError as e:
            where = getattr(e, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
            what = getattr(e, "problem", None) or type(e).__name__
            raise ConfigError(f"{p} is not valid YAML{at}: {what}; fix the file (a missing colon or space, a tab, "
                              "an unclosed quote or bracket?)") from None
        except RecursionError:
            raise ConfigError(f"{p} nests too deeply to be a run config; a config has sections of settings "
                              "(model:, train:, ...), two or three levels deep") from None
        if loaded is None:
            raise ConfigError(f"{p} is empty; a run config needs its sections (start from one in configs/, "
                              "e.g. configs/vae/ptb_lstm.yaml)")
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"{p} must hold a mapping of sections at the top level, got {type(loaded).__name__}")
        data = dict(loaded)
    data = apply_overrides(data, parse_overrides(overrides))
    return config_from_dict(cls, data)


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no tags, no code) that refuses a key given twice in one mapping."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"key {key!r} appears twice (lines {seen[key]} and {line}); keep one of them")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def check_out_dir(out_dir: str) -> None:
    check(bool(out_dir.strip()), "out_dir", "is empty: set it to the run's own folder (e.g. out_dir=runs/vae/my_run), "
                                            "so the run does not write into the current folder")


def save_config(cfg: Any, path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML, atomically (temporary file, then rename)."""
    path = Path(path)
    atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    return path


# ----------------------------------------------------------------------------- shared sections

@dataclass
class TokenizerConfig:
    """How to build the shared tokenizer (see :mod:`textgen.tokenization`)."""

    path: Optional[str] = None        # load this saved tokenizer folder instead of training one
    kind: Literal["word", "bpe", "unigram", "sentencepiece"] = "word"
    vocab_size: Optional[int] = None  # required for subword kinds; a cap for "word"
    min_freq: int = 1                 # word kind: drop rarer words (they become <unk>)
    lowercase: bool = False
    max_length: Optional[int] = None  # tokens per sentence including <eos>; longer ones are truncated
    byte_level: bool = False          # bpe only: byte-level BPE, which never gives <unk>

    def validate(self) -> None:
        check(self.min_freq >= 1, "min_freq", f"must be >= 1, got {self.min_freq}")
        check(not self.byte_level or self.kind == "bpe", "byte_level", f"applies to kind 'bpe' only, got kind={self.kind!r}")
        if self.vocab_size is not None:
            check(self.vocab_size >= 8, "vocab_size", f"must be >= 8 (4 special tokens + words), got {self.vocab_size}")
        if self.kind != "word" and self.path is None:
            check(self.vocab_size is not None, "vocab_size", f"is required for kind={self.kind!r} (for example 8000)")
        if self.max_length is not None:
            check(self.max_length >= 2, "max_length", f"must be >= 2 or null, got {self.max_length}")


@dataclass
class DataConfig:
    """Which corpora to read (spec strings, see :func:`textgen.data.load_corpus`) and how to batch them."""

    train: str = "ptb:train"
    valid: Optional[str] = "ptb:valid"
    test: Optional[str] = "ptb:test"
    text_column: str = "text"
    errors: Literal["strict", "replace"] = "strict"
    batch_size: int = 32
    bucketing: bool = True
    num_workers: int = 0

    def validate(self) -> None:
        check(bool(self.train.strip()), "train", "must name a corpus, for example ptb:train or data/*.txt")
        check(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        check(self.num_workers >= 0, "num_workers", f"must be >= 0, got {self.num_workers}")


@dataclass
class RuntimeConfig:
    """Where and how computations run (see :mod:`textgen.core.runtime`)."""

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA, fp32 elsewhere
    seed: int = 0
    progress: bool = True
    max_parameters: int = 2_000_000_000   # refuse model sizes above this (8 GB of fp32 weights): a typo guard

    # runs saved before carry compile: false, which still loads; true was never acted on, so it is refused
    REMOVED_KEYS: ClassVar[dict[str, str]] = {"compile": "it was accepted but never used torch.compile; remove the key"}

    def validate(self) -> None:
        check(0 <= self.seed < 2**63, "seed", f"must be in [0, 2**63), got {self.seed}")
        check(self.max_parameters >= 1, "max_parameters", f"must be >= 1, got {self.max_parameters}")


@dataclass
class TokenizerRunConfig:
    """``textgen train-tokenizer``: train the shared tokenizer on a corpus and save it."""

    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    out_dir: str = "runs/tokenizer"

    def validate(self) -> None:
        check_out_dir(self.out_dir)
