"""Sentence-VAE sub-commands: train, evaluate, and the pipeline verbs (interpolate, sample, reconstruct, encode ...)."""
from __future__ import annotations

import argparse

from textgen.cli.common import batch_size_option, device_option, on_error_option, print_json, run_config, seed_option, seeded_generator, training_options
from textgen.core.shipped import DEFAULT_CVAE, DEFAULT_VAE, PRETRAINED_MODELS
from textgen.vae.configuration import LABEL_GUIDANCE


def cmd_train_vae(args: argparse.Namespace) -> int:
    """Train a sentence VAE (or the LM baseline) from a YAML config; ``--resume`` continues the run."""
    from textgen.vae.configuration import VAERunConfig
    from textgen.vae.trainer import VAETrainer

    cfg = run_config(VAERunConfig, args)
    trainer = VAETrainer(cfg, resume=args.resume, overwrite=args.overwrite)
    valid = trainer.fit()
    if not trainer.dist.is_main:                   # under torchrun, rank 0 reports
        return 0
    print(f"finished; checkpoints in {cfg.out_dir}/best and {cfg.out_dir}/last")
    if valid:
        print(f"last validation: -ELBO {valid['nll_bound']:.2f}, KL {valid['kl']:.2f}, PPL bound {valid['ppl_bound']:.1f}")
    return 0


def cmd_eval_vae(args: argparse.Namespace) -> int:
    """Evaluate a saved VAE folder: true ELBO, NLL, KL, PPL, IW-NLL, MI, active units."""
    from textgen.vae.evaluate import evaluate_folder, format_report, write_report

    if args.iw_samples < 0:
        raise ValueError(f"--iw-samples must be >= 0, got {args.iw_samples}")
    report = evaluate_folder(args.model, args.data, iw_samples=args.iw_samples, batch_size=args.batch_size,
                             device=args.device, seed=args.seed, show_progress=not args.quiet,
                             recon_max_words=args.recon_max_words, num_sentences=args.num_sentences)
    print(format_report(report))
    out = args.out or default_report_path(args.model, args.data, args.num_sentences)
    write_report(report, out)
    print(f"wrote {out}")
    return 0


def default_report_path(model: str, data: str, num_sentences: int | None) -> str:
    """``<model folder>/eval_<data>.json`` for a run's folder; ``./eval_<name>_<data>.json`` for a shipped name
    (its folder is inside the installed package, and the name is not a folder of the current directory)."""
    from pathlib import Path

    subset = f"_first{num_sentences}" if num_sentences else ""
    name = f"eval_{data.replace(':', '_').replace('/', '_')}{subset}.json"
    if model in PRETRAINED_MODELS:
        return f"eval_{model}_{name[len('eval_'):]}"
    return str(Path(model) / name)


def cmd_eval_transfer(args: argparse.Namespace) -> int:
    """Attribute transfer of a conditional VAE on held-out labelled sentences: accuracy, BLEU, fluency, leakage."""
    import json
    from pathlib import Path

    from textgen.vae.transfer_eval import evaluate_transfer, format_transfer_report

    if args.num_sentences < 10:
        raise ValueError(f"--num-sentences must be >= 10, got {args.num_sentences}")
    report = evaluate_transfer(args.model, args.data, args.train_data, lm=args.lm, num_sentences=args.num_sentences,
                               max_words=args.max_words, guidance=args.guidance, from_guess=args.from_guess,
                               seed=args.seed, device=args.device)
    table = format_transfer_report(report)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(table + "\n")
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


def cmd_compare_nll(args: argparse.Namespace) -> int:
    """Paired -log p(x) of several model folders on the same sentences, with paired standard errors."""
    from textgen.vae.evaluate import compare_nll, write_report

    if args.iw_samples < 1:
        raise ValueError(f"--iw-samples must be >= 1, got {args.iw_samples}")
    report = compare_nll(args.models, args.data, iw_samples=args.iw_samples, batch_size=args.batch_size,
                         device=args.device, seed=args.seed)
    print(f"{'model':<50} {'mode':<4} {'NLL':>8} {'minus first':>12} {'paired SE':>9} {'better on':>9}")
    for r in report["models"]:
        extra = f"{r['diff']:>+12.3f} {r['diff_se']:>9.3f} {r['better_fraction']:>9.1%}" if "diff" in r else ""
        print(f"{r['model'][-50:]:<50} {r['mode']:<4} {r['nll']:>8.3f} {extra}")
    print(f"({report['models'][0]['num_sentences']:,} sentences of {args.data}; VAEs: IW bound, k={args.iw_samples}; "
          "'better on': sentences where that model beats the first)")
    if write_report(report, args.out):
        print(f"wrote {args.out}")
    return 0


def model_name(args: argparse.Namespace) -> str:
    """--model, or the shipped default: the conditional one for transfer and for a --label, else en-lstm-vae."""
    if args.model is not None:
        return args.model
    return DEFAULT_CVAE if args.command == "transfer" or getattr(args, "label", None) else DEFAULT_VAE


def vae_pipeline(args: argparse.Namespace):
    from textgen.pipelines import SentenceVAEPipeline

    return SentenceVAEPipeline.from_pretrained(model_name(args), device=args.device,
                                               show_progress=not (args.json or args.quiet))


def _decoding_kwargs(args: argparse.Namespace) -> dict:
    return {"strategy": args.strategy, "beam_size": args.beam_size, "top_p": args.top_p}


def cmd_interpolate(args: argparse.Namespace) -> int:
    """Walk the latent space between two sentences and print the decoded path."""
    if args.steps < 1:
        raise ValueError(f"--steps must be a positive integer (points between the two sentences), got {args.steps}")
    pipe = vae_pipeline(args)
    out = pipe.interpolate(args.a, args.b, steps=args.steps, method=args.method, dedupe=not args.no_dedupe,
                           generator=seeded_generator(args.seed), label=args.label, **_decoding_kwargs(args))
    if args.json:
        print_json({"source": out.source, "target": out.target, "method": out.method,
                     "path": [{"weight": w, "sentence": s, "endpoint": e}
                              for s, w, e in zip(out.sentences, out.weights, out.is_endpoint)],
                     "unknown_words": out.unknown_words, "num_truncated": out.num_truncated})
        return 0
    print(f"# {out.method} path, {len(out.sentences)} distinct points; * marks the reconstructions of the endpoints")
    for name, text in (("A", out.source), ("B", out.target)):     # a very long input: its start, and its length
        print(f"# {name}: {text if len(text) <= 200 else text[:200] + f'... ({len(text):,} characters)'}")
    for line in out.lines():
        print(line)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Decode sentences from codes drawn from the prior."""
    pipe = vae_pipeline(args)
    out = pipe.sample(args.n, temperature=args.temperature, generator=seeded_generator(args.seed), label=args.label,
                      guidance=args.guidance, **_decoding_kwargs(args))
    if args.json:
        temperature = pipe.model.config.latent_prior_temperature if args.temperature is None else args.temperature
        print_json({"sentences": out.sentences, "seed": args.seed, "temperature": temperature, "label": args.label})
    else:
        print("\n".join(out.sentences))
    return 0


def guidance_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--guidance", type=float, default=None,
                   help=f"label guidance weight w: decode from (1 + w) log p(x | z, label) - w log p(x | z, the "
                        f"label to move away from); 0 is plain p(x | z, label) (default: the model's own, else "
                        f"{LABEL_GUIDANCE:g})")


def cmd_transfer(args: argparse.Namespace) -> int:
    """Rewrite sentences for another label with a conditional VAE (Hu et al. 2017)."""
    pipe = vae_pipeline(args)
    generator = seeded_generator(args.seed)

    def rewrite(chunk: list[str]) -> list[dict]:
        out = pipe.transfer(chunk, to=args.to, source_labels=args.source, guidance=args.guidance,
                            generator=generator, **_decoding_kwargs(args))
        return [{"input": i, "source_label": src, "target_label": out.target, "output": o}
                for i, src, o in zip(out.inputs, out.source_labels, out.sentences)]

    def show(row: dict) -> str:
        if row["output"] is None:
            return f"  {row['input']}\n! {row['error']}"
        return f"  {row['input']}   [{row['source_label']}]\n> {row['output']}   [{row['target_label']}]"

    return stream_sentences(args, rewrite, show, empty={"source_label": None, "target_label": args.to, "output": None})


def cmd_reconstruct(args: argparse.Namespace) -> int:
    """Encode sentences to their posterior means and decode them back."""
    pipe = vae_pipeline(args)
    generator = seeded_generator(args.seed)

    def reconstruct(chunk: list[str]) -> list[dict]:
        out = pipe.reconstruct(chunk, generator=generator, **_decoding_kwargs(args))
        return [{"input": i, "reconstruction": r} for i, r in zip(out.inputs, out.sentences)]

    def show(row: dict) -> str:
        return f"  {row['input']}\n" + (f"! {row['error']}" if row["reconstruction"] is None else f"> {row['reconstruction']}")

    return stream_sentences(args, reconstruct, show, empty={"reconstruction": None})


ITEM_PROBLEM = "; or pass errors="     # how the library's message about one bad item ends (raise_problem)


def stream_sentences(args: argparse.Namespace, run, show, *, empty: dict, chunk_size: int = 32) -> int:
    """Run ``run`` over the command's sentences in chunks and print each chunk's rows as soon as it is done
    (text, or one JSON object per line with ``--json``), with a progress bar over the whole input.

    A chunk the model refuses is retried line by line, so ``--on-error`` decides about single lines: ``raise``
    stops with the line's number (the rows before it are already printed), ``skip`` leaves it out with a
    warning, ``null`` prints it with ``empty``'s fields (``null`` in JSON) and the reason."""
    import json

    from textgen.core.logs import get_logger
    from textgen.core.runtime import progress
    from textgen.core.text import quote

    numbered, total = sentence_lines(args)
    bar = progress(total=total, enabled=not (args.quiet or args.json), desc=args.command, unit=" lines")
    skipped = 0

    def emit(rows: list[dict]) -> None:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False) if args.json else show(row), flush=True)

    def one_by_one(chunk: list[tuple[int, str]]) -> list[dict]:
        nonlocal skipped
        rows = []
        for number, text in chunk:
            try:
                rows += run([text])
            except (ValueError, TypeError) as e:
                if ITEM_PROBLEM not in str(e):
                    raise
                where = f"line {number}" if args.file else f"sentence {number}"
                reason = str(e).split(ITEM_PROBLEM)[0]
                if args.on_error == "raise":
                    raise ValueError(f"{where} {quote(text)}: {reason}. Fix or remove it, or pass --on-error skip "
                                     "(leave such lines out) or --on-error null (print them with the reason)") from None
                if args.on_error == "skip":
                    skipped += 1
                    get_logger().warning(f"skipped {where} {quote(text)}: {reason}")
                else:
                    rows.append({"input": text, **empty, "error": reason})
        return rows

    try:
        for chunk in _chunks(numbered, chunk_size):
            try:
                rows = run([text for _, text in chunk])
            except (ValueError, TypeError) as e:
                if ITEM_PROBLEM not in str(e):           # about the model or the options, not about one line
                    raise
                rows = one_by_one(chunk)
            emit(rows)
            bar.update(len(chunk))
    finally:
        bar.close()
    if skipped:
        get_logger().warning(f"{skipped:,} line(s) could not be read and were left out (--on-error skip)")
    return 0


def sentence_lines(args: argparse.Namespace):
    """(number, text) of the sentences from the arguments and/or ``--file`` (blank lines skipped), streamed,
    and how many there are (the file is counted first, so the progress bar has a total and an ETA)."""
    from pathlib import Path

    from textgen.vae.sentence_encoder import read_lines

    if not args.sentences and not args.file:
        raise ValueError("no sentences given: pass them as arguments or with --file FILE (one per line)")
    total = len(args.sentences)
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise FileNotFoundError(f"--file {path} does not exist; pass a text file with one sentence per line")
        with open(path, "rb") as f:
            total += sum(1 for line in f if line.strip())

    def numbered():
        yield from enumerate(args.sentences, 1)
        if args.file:
            for number, line in enumerate(read_lines(args.file), 1):
                if line.strip():
                    yield number, line.strip()

    return numbered(), total


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def cmd_encode(args: argparse.Namespace) -> int:
    """Write posterior means (and log-variances) of sentences to .npy or .jsonl, streaming a file of any size."""
    from pathlib import Path

    from textgen.core.logs import get_logger
    from textgen.core.runtime import progress
    from textgen.vae.sentence_encoder import SentenceEncoder, encode_file, read_lines

    out_path = Path(args.out)
    if out_path.suffix not in (".npy", ".jsonl"):
        raise ValueError(f"--out must end in .npy or .jsonl, got {out_path.name}")
    if args.sentences and args.file:
        raise ValueError("pass sentences as arguments or with --file, not both")
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise FileNotFoundError(f"--file {path} does not exist; pass a text file with one sentence per line")
        lines, what = read_lines(path), "line"
        with open(path, "rb") as f:                # counted first: the progress bar gets a total and an ETA
            total = sum(1 for _ in f)
    elif args.sentences:
        lines, what, total = list(args.sentences), "sentence", len(args.sentences)
    else:
        raise ValueError("no sentences given: pass them as arguments or with --file FILE (one per line)")
    from textgen.core.runtime import resolve_device

    encoder = SentenceEncoder.from_pretrained(model_name(args), device=resolve_device(args.device))
    if encoder.model.config.condition is not None:
        raise ValueError(f"{model_name(args)} is a conditional VAE: q(z | x, y) needs each sentence's label, which "
                         "textgen encode does not take; encode with a plain VAE (the default en-lstm-vae), or in "
                         "Python with SentenceVAEPipeline.encode(sentences, labels=...)")
    bar = progress(total=total, enabled=not (args.json or args.quiet), desc="encode", unit=" lines")
    try:
        report = encode_file(encoder, lines, out_path, errors=args.on_error, logvar=args.logvar,
                             batch_size=args.batch_size, what=what, on_chunk=bar.update)
    except (ValueError, TypeError) as e:
        if args.file and args.on_error == "raise" and str(e).startswith("line "):
            message = str(e).split(ITEM_PROBLEM)[0]
            raise ValueError(f"{args.file}: {message}. Fix or remove the line, or pass --on-error skip (leave such lines "
                             "out) or --on-error null (a NaN row for each)") from None
        raise
    finally:
        bar.close()
    log = get_logger()
    summary = report.summary(args.on_error)
    if summary:
        log.warning(summary)
    if report.num_undecodable:
        log.warning(f"{report.num_undecodable:,} line(s) held bytes that are not UTF-8; they were read as spaces")
    if report.num_truncated:
        log.warning(f"{report.num_truncated:,} line(s) longer than {encoder.max_length} tokens were truncated")
    if args.json:
        import json

        print(json.dumps({"out": report.path, "rows": report.rows, "lines": report.lines, "shape": report.shape,
                          "problems": [{"line": p.index + 1, "reason": p.reason} for p in report.problems],
                          "lines_file": report.lines_file}))
    else:
        shape = "x".join(map(str, report.shape)) if out_path.suffix == ".npy" else f"{report.rows:,} rows"
        extra = f"; the line number of each row is in {report.lines_file}" if report.lines_file else ""
        print(f"wrote {shape} ({'mu, logvar' if args.logvar else 'mu'}) to {out_path}{extra}")
    return 0


def _skip_non_text(ds, source: str):
    """``ds`` without the rows the encoder refuses as text (control characters, bytes a source lost: U+FFFD), which
    a map of thousands of real sentences skips with a count rather than stopping at the first one."""
    import sys

    from textgen.tokenization.textprep import check_is_text

    good, first_bad = [], None
    for i, text in enumerate(ds["text"]):
        try:
            check_is_text(text)
            good.append(i)
        except ValueError as err:
            first_bad = first_bad or (i, err)
    if first_bad is None:
        return ds
    if len(good) < 2:
        raise ValueError(f"fewer than two rows of {source} are text: {first_bad[1]}")
    print(f"skipped {len(ds) - len(good):,} of {len(ds):,} rows of {source} that are not text, e.g. row "
          f"{first_bad[0]}: {first_bad[1]}", file=sys.stderr)
    return ds.select(good)


def cmd_plot_latent(args: argparse.Namespace) -> int:
    """PCA map of posterior means (optionally beside other models), and an interpolation path over it."""
    from pathlib import Path

    import numpy as np

    from textgen.data import load_corpus
    from textgen.pipelines import SentenceVAEPipeline
    from textgen.vae.plots import latent_map, plot_interpolation_path, plot_latent_maps

    if args.max_points < 2:
        raise ValueError(f"--max-points must be >= 2, got {args.max_points}")
    ds = load_corpus(args.data, text_column=args.text_column)
    if len(ds) > args.max_points:
        ds = ds.select(np.random.default_rng(args.seed).choice(len(ds), args.max_points, replace=False).tolist())
    if args.color != "length" and args.color not in ds.column_names:
        raise ValueError(f"--color-by {args.color!r} is not a column of {args.data} (columns: {', '.join(ds.column_names)}); "
                         "use 'length' or one of those")
    pipes = [SentenceVAEPipeline.from_pretrained(m, device=args.device, show_progress=False) for m in [args.model, *args.compare]]
    cond = next((p.model.config.condition for p in pipes if p.model.config.condition is not None), None)
    if cond is not None:                       # a conditional VAE encodes each sentence under its own label
        if cond.column not in ds.column_names:
            raise ValueError(f"{args.data} has no column {cond.column!r}: a conditional VAE encodes each sentence under "
                             "its label; pass a labelled corpus (e.g. data/english/test.jsonl)")
        rows = [i for i, y in enumerate(ds[cond.column]) if y in cond.labels]
        if len(rows) < 2:
            raise ValueError(f"fewer than two sentences of {args.data} have one of the labels {cond.labels}")
        ds = ds.select(rows)
    ds = _skip_non_text(ds, args.data)
    color = None if args.color == "length" else ds[args.color]
    label = "sentence length (tokens)" if args.color == "length" else args.color
    texts = ds["text"]
    maps = []
    for model, pipe in zip([args.model, *args.compare], pipes):
        name = Path(str(model)).name if Path(str(model)).exists() else str(model)
        own = ds[pipe.model.config.condition.column] if pipe.model.config.condition is not None else None
        maps.append(latent_map(pipe, texts, name, color=color, color_label=label, labels=own))
    out = plot_latent_maps(maps, args.out, title=f"{args.data}: {len(texts):,} sentences")
    print(f"wrote {out}")
    if args.path:
        res = pipes[0].interpolate(args.path[0], args.path[1], steps=args.steps, method=args.method, dedupe=False)
        path_out = Path(args.out).with_name(Path(args.out).stem + "_path" + Path(args.out).suffix)
        plot_interpolation_path(maps[0], res.latents.numpy(), res.sentences, path_out, method=args.method)
        print(f"wrote {path_out}")
    return 0


def cmd_fit_prior(args: argparse.Namespace) -> int:
    """Fit a VAE's sampling prior to its aggregate posterior (a Gaussian mixture) and save the model with it."""
    import random

    from textgen.data import load_corpus
    from textgen.pipelines import SentenceVAEPipeline

    if args.num_sentences < args.components:
        raise ValueError(f"--num-sentences ({args.num_sentences}) must be at least --components ({args.components})")
    texts = list(load_corpus(args.data)["text"])
    if len(texts) > args.num_sentences:
        texts = random.Random(args.seed).sample(texts, args.num_sentences)
    pipe = SentenceVAEPipeline.from_pretrained(args.model, device=args.device, show_progress=not args.quiet)
    info = pipe.fit_prior(texts, args.components, seed=args.seed, temperature=args.temperature)
    out = pipe.model.save_pretrained(args.out)
    print(f"fitted a {info['components']}-component Gaussian mixture to {info['codes']:,} codes (posterior means) in "
          f"{info['iterations']} EM steps: {info['log_likelihood']:.2f} nats per code "
          f"(N(0, I): {info['log_likelihood_standard_normal']:.2f}); sampled at temperature {args.temperature:g}; wrote {out}")
    return 0


def cmd_export_hf(args: argparse.Namespace) -> int:
    """Write a model's encoder as a transformers folder (AutoModel / pipeline / trust_remote_code)."""
    from textgen.integrations.hf import export_hf

    out = export_hf(args.model, args.out)
    print(f"wrote {out}: load it with AutoModel / AutoTokenizer.from_pretrained({str(out)!r}, trust_remote_code=True), "
          f"pipeline('sentence-embedding', model={str(out)!r}, trust_remote_code=True) or "
          f"SentenceTransformer({str(out)!r}, trust_remote_code=True); the folder carries textgen's code for them")
    return 0


# ----------------------------------------------------------------------------- parser


def register(add) -> None:
    """Add this module's sub-commands to the parser (``add(name, func, help)`` returns the sub-parser)."""
    p = add("train-vae", cmd_train_vae, "train a sentence VAE / LM baseline from a YAML config")
    training_options(p, "configs/vae/ptb_lstm.yaml", "train.epochs=5 model.latent_size=16")
    p = add("eval-vae", cmd_eval_vae, "evaluate a saved VAE: ELBO, NLL, KL, PPL, IW-NLL, MI, active units")
    p.add_argument("--model", required=True, help="model folder (e.g. runs/vae/ptb_lstm/best)")
    p.add_argument("--data", default="ptb:test", help="corpus spec (default: ptb:test)")
    p.add_argument("--iw-samples", type=int, default=0, help="importance samples for IW-NLL (Burda et al. 2016), e.g. 500")
    p.add_argument("--num-sentences", type=int, help="evaluate the first N sentences only (default: all)")
    batch_size_option(p, 64)
    device_option(p, "auto")
    seed_option(p, 0)
    p.add_argument("--recon-max-words", type=int, default=12,
                   help="greedy-reconstruct the sentences of at most this many words (0: skip)")
    p.add_argument("--out", help="JSON report path (default: <model>/eval_<data>.json for a model folder, "
                                 "./eval_<name>_<data>.json for a shipped name; _first<N> with --num-sentences N)")
    p = add("compare-nll", cmd_compare_nll,
            "paired -log p(x) of model folders on the same sentences (exact for an LM, IW bound for a VAE)")
    p.add_argument("models", nargs="+", help="model folders sharing one tokenizer; the first is the reference")
    p.add_argument("--data", default="ptb:test", help="corpus spec (default: ptb:test)")
    p.add_argument("--iw-samples", type=int, default=100, help="importance samples for a VAE's bound (default 100)")
    batch_size_option(p, 64)
    device_option(p, "auto")
    seed_option(p, 0)
    p.add_argument("--out", help="also write the report as JSON")
    def pipeline_options(p: argparse.ArgumentParser, decoding: bool = True, strategy: str = "beam",
                         default: str = DEFAULT_VAE) -> None:
        also = f"; {DEFAULT_CVAE} with --label" if default == DEFAULT_VAE and any(
            "--label" in a.option_strings for a in p._actions) else ""
        p.add_argument("--model", help=f"model folder (from train-vae) or a shipped name (default: {default}{also})")
        device_option(p, "cpu")
        p.add_argument("--json", action="store_true",
                       help="print JSON instead of text (one object per line for reconstruct and transfer)")
        if decoding:
            p.add_argument("--strategy", default=strategy, choices=["greedy", "beam", "sample"],
                           help=f"decoding (default: {strategy})")
            p.add_argument("--beam-size", type=int, default=4, help="beam width for --strategy beam (default 4)")
            p.add_argument("--top-p", type=float, default=1.0, help="nucleus mass for --strategy sample")
            p.add_argument("--seed", type=int, default=0, help="random seed (sampling)")
    p = add("interpolate", cmd_interpolate, "decode the latent path between two sentences (Bowman et al. 2016)")
    p.add_argument("a", help="first sentence")
    p.add_argument("b", help="second sentence")
    p.add_argument("--steps", type=int, default=8, help="points between the two sentences (default 8)")
    p.add_argument("--method", default="slerp", choices=["slerp", "linear"],
                   help="spherical (slerp, default: stays where codes live) or straight-line interpolation")
    p.add_argument("--no-dedupe", action="store_true", help="print every point, also repeated sentences")
    p.add_argument("--label", help="a conditional VAE: encode and decode the path under this label")
    pipeline_options(p)
    p = add("sample", cmd_sample, "decode sentences from codes drawn from the prior (N(0, I) or the fitted mixture)")
    p.add_argument("-n", type=int, default=5, help="number of sentences (default 5)")
    p.add_argument("--temperature", type=float, default=None,
                   help="scale of the prior's spread (default: the model's own, set by fit-prior; else 1)")
    p.add_argument("--label", help="a conditional VAE: decode under this label (e.g. positive)")
    guidance_option(p)
    pipeline_options(p, strategy="greedy")
    p = add("transfer", cmd_transfer, "rewrite sentences for another label with a conditional VAE (Hu et al. 2017)")
    p.add_argument("sentences", nargs="*", help="sentences (or use --file)")
    p.add_argument("--file", help="text file, one sentence per line")
    p.add_argument("--to", required=True, help="the target label, e.g. positive")
    p.add_argument("--from", dest="source", help="the sentences' own label (default: the one the model finds likeliest)")
    guidance_option(p)
    pipeline_options(p, default=DEFAULT_CVAE)
    on_error_option(p, null="print it with the reason (null)")
    for name, func, help in (("reconstruct", cmd_reconstruct, "encode sentences and decode them back"),
                             ("encode", cmd_encode, "write posterior means of sentences to .npy or .jsonl")):
        p = add(name, func, help)
        p.add_argument("sentences", nargs="*", help="sentences (or use --file)")
        p.add_argument("--file", help="text file, one sentence per line")
        pipeline_options(p, decoding=name == "reconstruct")
        if name == "reconstruct":
            on_error_option(p, null="print it with the reason (null)")
    p.add_argument("--out", required=True, help="output file: .npy (N x Z, or N x 2 x Z with --logvar) or .jsonl")
    p.add_argument("--logvar", action="store_true", help="also write the posterior log-variances")
    batch_size_option(p, 256)
    p.add_argument("--on-error", default="raise", choices=["raise", "skip", "null"],
                   help="a line that cannot be encoded (empty, no known word): stop (raise, default), leave it "
                        "out (skip; .npy also gets <out>.lines.txt) or write a NaN row (null)")
    p = add("eval-transfer", cmd_eval_transfer,
            "attribute transfer of a conditional VAE: accuracy (separate classifier), BLEU, fluency, leakage")
    p.add_argument("--model", required=True, help="a conditional VAE folder (trained with model.condition)")
    p.add_argument("--data", required=True, help="held-out labelled sentences, e.g. data/english/test.jsonl")
    p.add_argument("--train-data", required=True,
                   help="labelled sentences to train the separate classifier on, e.g. data/english/train.jsonl")
    p.add_argument("--lm", help="a language-model baseline folder (mode=lm) for fluency, e.g. runs/vae/en_lm/best")
    p.add_argument("--num-sentences", type=int, default=500, help="held-out sentences to rewrite (default 500)")
    p.add_argument("--max-words", type=int, default=30, help="longest held-out sentence used (default 30)")
    p.add_argument("--from-guess", action="store_true",
                   help="encode the sources under the model's own label guess, as transfer without --from does")
    guidance_option(p)
    seed_option(p, 0)
    device_option(p, "cpu")
    p.add_argument("--out", default="eval_transfer.json", help="JSON report; a markdown table goes beside it (.md)")
    p = add("plot-latent", cmd_plot_latent, "PCA map of posterior means, optionally beside an auto-encoder (needs matplotlib)")
    p.add_argument("--model", default=DEFAULT_VAE, help=f"model folder or shipped name (default: {DEFAULT_VAE})")
    p.add_argument("--compare", nargs="*", default=[], metavar="MODEL", help="more models drawn beside it, e.g. a plain AE")
    p.add_argument("--data", default="ptb:test", help="corpus spec (default: ptb:test)")
    p.add_argument("--text-column", default="text", help="the column holding the text (default: text)")
    p.add_argument("--color-by", "--color", dest="color", default="length",
                   help="'length' or a label column of the corpus (e.g. label, source, class_id)")
    p.add_argument("--max-points", type=int, default=3000, help="random subset of the corpus to draw")
    p.add_argument("--path", nargs=2, metavar=("A", "B"), help="also draw the interpolation path A -> B (<out>_path.png)")
    p.add_argument("--steps", type=int, default=8, help="points of the --path (default 8)")
    p.add_argument("--method", default="slerp", choices=["slerp", "linear"],
                   help="spherical (slerp, default: stays where codes live) or straight-line interpolation")
    seed_option(p, 0)
    device_option(p, "cpu")
    p.add_argument("--out", default="latent.png", help="picture file (default latent.png)")
    p = add("fit-prior", cmd_fit_prior,
            "fit a VAE's sampling prior to its codes of training sentences (a Gaussian mixture; Ghosh et al. 2020)")
    p.add_argument("--model", required=True, help="a VAE folder, e.g. runs/vae/en_broad/best")
    p.add_argument("--data", required=True, help="its training sentences, e.g. data/english/train.jsonl")
    p.add_argument("--out", required=True, help="folder to write the model with its prior (may be --model itself)")
    p.add_argument("--components", type=int, default=50, help="mixture components (default 50)")
    p.add_argument("--num-sentences", type=int, default=40000, help="random training sentences to encode (default 40000)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="spread scale `sample` draws at by default (default 1; choose it on held-out data)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset and the EM start")
    device_option(p, "cpu")
    p = add("export-hf", cmd_export_hf, "export a VAE's encoder as a Hugging Face transformers folder")
    p.add_argument("--model", default=DEFAULT_VAE, help=f"model folder or shipped name (default: {DEFAULT_VAE})")
    p.add_argument("--out", required=True, help="output folder")
