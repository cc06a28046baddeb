"""Strict YAML configs: unknown keys, wrong types, impossible values, overrides, and every shipped file."""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest
import yaml

from textgen.cli.configs import CONFIG_SCHEMAS, config_schema, schema_for_path
from textgen.core.config import ConfigError, TokenizerRunConfig, check, config_from_dict, config_to_dict, load_config, parse_overrides, save_config

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Inner:
    lr: float = 1e-3
    kind: Literal["adamw", "sgd"] = "adamw"
    steps: int = 10
    betas: tuple[float, float] = (0.9, 0.999)

    def validate(self):
        check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")


@dataclass
class Outer:
    name: str = "run"
    train: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)
    limit: Optional[int] = None


def test_every_shipped_config_parses():
    files = sorted((ROOT / "configs").rglob("*.yaml"))
    assert files, "configs/ holds no YAML files"
    kinds = {f.parent.name for f in files}
    assert kinds <= set(CONFIG_SCHEMAS), f"config folders without a schema: {kinds - set(CONFIG_SCHEMAS)}"
    for f in files:
        cfg = load_config(schema_for_path(f), f)
        # the resolved config survives a YAML round trip unchanged
        again = config_from_dict(type(cfg), yaml.safe_load(yaml.safe_dump(config_to_dict(cfg))))
        assert again == cfg, f


def test_defaults_and_nested_sections():
    cfg = config_from_dict(Outer, {"train": {"lr": 0.1}})
    assert cfg.train.lr == 0.1 and cfg.train.kind == "adamw" and cfg.name == "run"


def test_unknown_key_names_key_and_allowed_keys():
    with pytest.raises(ConfigError) as e:
        config_from_dict(Outer, {"train": {"lrr": 0.1}})
    msg = str(e.value)
    assert "train.lrr" in msg and "did you mean 'train.lr'" in msg and "allowed keys: lr, kind, steps, betas" in msg


def test_wrong_types_are_errors():
    with pytest.raises(ConfigError, match=r"train.steps: expected an integer, got 'ten'"):
        config_from_dict(Outer, {"train": {"steps": "ten"}})
    with pytest.raises(ConfigError, match="train.steps: expected an integer"):
        config_from_dict(Outer, {"train": {"steps": True}})  # bools are not ints
    with pytest.raises(ConfigError, match="name: expected a string"):
        config_from_dict(Outer, {"name": 3})
    with pytest.raises(ConfigError, match="expected a mapping for section Inner"):
        config_from_dict(Outer, {"train": 3})
    with pytest.raises(ConfigError, match=r"train.betas: expected 2 items"):
        config_from_dict(Outer, {"train": {"betas": [0.9]}})


def test_literal_lists_allowed_values():
    with pytest.raises(ConfigError, match=r"train.kind: 'adam' is not allowed; choose one of 'adamw', 'sgd'"):
        config_from_dict(Outer, {"train": {"kind": "adam"}})


def test_impossible_value_is_error_with_full_key():
    with pytest.raises(ConfigError, match=r"train.lr: must be > 0, got -1.0"):
        config_from_dict(Outer, {"train": {"lr": -1}})


def test_overrides_parse_and_merge(tmp_path):
    assert parse_overrides(["train.lr=3e-4", "model.latent_size=32", "data.valid=null", "x.flag=true"]) == {
        "train": {"lr": 3e-4}, "model": {"latent_size": 32}, "data": {"valid": None}, "x": {"flag": True},
    }
    f = tmp_path / "c.yaml"
    f.write_text("name: base\ntrain:\n  lr: 0.1\n  steps: 5\n")
    cfg = load_config(Outer, f, ["train.lr=3e-4", "tags=[a, b]", "limit=7"])
    assert cfg.train.lr == pytest.approx(3e-4) and cfg.train.steps == 5 and cfg.tags == ["a", "b"] and cfg.limit == 7
    with pytest.raises(ConfigError, match="not of the form key=value"):
        load_config(Outer, f, ["train.lr"])
    with pytest.raises(ConfigError, match="unknown key 'train.nope'"):
        load_config(Outer, f, ["train.nope=1"])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Outer, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_config(Outer, lst)


def test_resolved_config_saved_and_reloaded(tmp_path):
    cfg = load_config(TokenizerRunConfig, ROOT / "configs/tokenizer/ptb_word.yaml", ["tokenizer.min_freq=3"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    assert load_config(TokenizerRunConfig, path) == cfg
    assert not list((tmp_path / "run").glob("*.tmp")), "atomic write left a temporary file"


def test_tokenizer_config_validation():
    with pytest.raises(ConfigError, match="tokenizer.vocab_size: is required for kind='bpe'"):
        config_from_dict(TokenizerRunConfig, {"tokenizer": {"kind": "bpe"}})
    with pytest.raises(ConfigError, match="tokenizer.min_freq: must be >= 1"):
        config_from_dict(TokenizerRunConfig, {"tokenizer": {"min_freq": 0}})


def test_schema_registry():
    assert config_schema("tokenizer") is TokenizerRunConfig
    with pytest.raises(ConfigError, match="unknown config kind"):
        config_schema("nope")
    with pytest.raises(ConfigError, match="cannot tell which schema"):
        schema_for_path("somewhere/else.yaml")


def test_values_that_cannot_be_meant_are_refused_with_the_key_and_the_file(tmp_path):
    from textgen.vae.configuration import VAERunConfig

    for override, message in [("optim.lr=.inf", "optim.lr: must be a finite number"),
                              ("optim.lr=1e999", "optim.lr: must be a finite number"),
                              ("train.free_bits=.inf", "train.free_bits: must be a finite number"),
                              ("optim.lr=.nan", "optim.lr: must be a finite number"),
                              ("model.latent_size=1e9", "more than runtime.max_parameters=2,000,000,000"),
                              ("out_dir=", "out_dir: is empty")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(VAERunConfig, None, [override])
    big = load_config(VAERunConfig, None, ["model.latent_size=1e9", "runtime.max_parameters=3e12"])
    assert big.model.latent_size == 10 ** 9                     # refused only up to the bound, which can be raised
    dup = tmp_path / "dup.yaml"
    dup.write_text("optim:\n  lr: 0.1\n  lr: 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup.yaml: key 'lr' appears twice \(lines 2 and 3\)"):
        load_config(VAERunConfig, dup)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("out_dir: runs/caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin.yaml is not UTF-8 text"):
        load_config(VAERunConfig, latin)


def test_the_parameter_estimate_is_close_for_the_shipped_configs(root):
    from textgen.vae.configuration import VAERunConfig
    from textgen.vae.modeling import SentenceVAE

    for name in ("en_lstm_li", "ptb_lstm", "ptb_transformer"):
        path = root / "configs" / "vae" / f"{name}.yaml"
        if not path.is_file():
            continue
        model = load_config(VAERunConfig, path).model
        real = sum(p.numel() for p in SentenceVAE(model).parameters())
        assert abs(model.approx_parameters() - real) / real < 0.1, name


def test_empty_deep_broken_yaml_and_huge_seeds_are_one_line_errors(tmp_path):
    from textgen.core.config import ConfigError, load_config
    from textgen.vae.configuration import VAERunConfig

    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="is empty; a run config needs its sections"):
        load_config(VAERunConfig, empty)
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nests too deeply"):
        load_config(VAERunConfig, deep)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  latent_size: 8\n train: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+") as e:
        load_config(VAERunConfig, broken)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"seed.*2\*\*63"):
        load_config(VAERunConfig, None, [f"runtime.seed={2 ** 70}"])
