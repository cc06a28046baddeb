"""The ``textgen`` command line (also ``python -m textgen``).

Each sub-command is a thin wrapper over library code. Heavy libraries are imported inside
the command that needs them, so ``textgen --help`` stays fast.

Errors a user can fix (a bad config key, a missing file, a corrupt tokenizer folder ...)
are printed as one ``error: ...`` line with exit status 2, never as a traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

EXIT_USER_ERROR = 2


# ----------------------------------------------------------------------------- commands

DEMO_PAIRS = [
    ("i want to talk to you", "she did n't want to be with him"),
    ("the company said it expects to report a loss", "prices rose sharply in october"),
]


def cmd_demo(args: argparse.Namespace) -> int:
    """The quickstart: interpolate between sentences and sample from the prior with the shipped model."""
    import time

    from textgen.models.pretrained import PRETRAINED_MODELS, resolve_model_path

    t0 = time.perf_counter()
    if args.model in PRETRAINED_MODELS:
        try:
            resolve_model_path(args.model)
        except ValueError as e:  # the shipped weights are not in this checkout yet
            print(f"note: {e}\nmeanwhile, a tour of the data layer that every model shares:\n")
            return _data_tour()
    pipe = _pipeline(args)
    gen = _generator(args.seed)
    print(f"model: {args.model} ({pipe.model.config.encoder.upper()} encoder / {pipe.model.config.decoder.upper()} "
          f"decoder, latent {pipe.model.config.latent_size}, vocabulary {pipe.tokenizer.vocab_size:,})\n")
    for a, b in DEMO_PAIRS:
        out = pipe.interpolate(a, b, steps=args.steps)
        print(f"slerp from {a!r}\n        to {b!r}   (* = reconstructions of the two ends)")
        for line in out.lines():
            print("   " + line)
        print()
    print("samples from the prior z ~ N(0, I), greedy decoding:")
    for s in pipe.sample(args.n, generator=gen).sentences:
        print("   " + s)
    if args.images_out:
        _demo_birds(args.images_out, args.seed)
    print(f"\ndone in {time.perf_counter() - t0:.1f} s. Try: textgen interpolate \"your sentence\" \"another one\"")
    return 0


DEMO_CAPTIONS = ["a red bird with black wings", "this small bird has a blue crown and a white belly",
                 "a yellow bird with a short black bill", "this bird is mostly green with an orange breast"]


def _demo_birds(out: str, seed: int) -> None:
    """Captions -> bird images with the shipped text-to-image GAN, as one captioned grid."""
    import torch

    from textgen.models.pretrained import resolve_model_path
    from textgen.pipelines import TextToImagePipeline

    try:
        resolve_model_path("birds-gan")
    except ValueError as e:
        print(f"\n(no bird images: {e})")
        return
    pipe = TextToImagePipeline.from_pretrained("birds-gan")
    result = pipe(DEMO_CAPTIONS, num_images_per_caption=6, generator=torch.Generator().manual_seed(seed))
    result.grid().save(out)
    print(f"\nbirds from captions (shipped birds-gan, {pipe.image_size} px): {len(result.images)} images, "
          f"one row per caption, in {out}")
    for c in DEMO_CAPTIONS:
        print("   " + c)


def _data_tour(data: str = "ptb:train") -> int:
    """PTB -> word tokenizer -> length-bucketed batches, with what each step gives."""
    from textgen.data import BucketBatchSampler, load_corpus, padding_fraction, tokenize_dataset
    from textgen.tokenization import Tokenizer

    train = load_corpus(data)
    tok = Tokenizer.train(train["text"], kind="word")
    ds, stats = tokenize_dataset(train, tok)
    lengths = ds["length"]
    pad = padding_fraction(lengths, list(BucketBatchSampler(lengths, batch_size=32, shuffle=True, seed=0)))
    print(f"corpus      {data}: {len(train):,} sentences, {stats.num_tokens:,} tokens (incl. <eos>)")
    print(f"tokenizer   {tok!r}")
    s = train["text"][1]
    print(f"  text      {s}\n  ids       {tok.encode(s)[:12]} ...\n  decoded   {tok.decode(tok.encode(s))}")
    print(f"batching    length-bucketed batches of 32: {pad:.1%} padding")
    return 0


def cmd_train_tokenizer(args: argparse.Namespace) -> int:
    """Train the shared tokenizer from a YAML config and save it with the resolved config."""
    from pathlib import Path

    from textgen.config import TokenizerRunConfig, load_config, save_config
    from textgen.data import corpus_texts
    from textgen.tokenization import Tokenizer

    cfg = load_config(TokenizerRunConfig, args.config, args.overrides)
    if args.out:
        cfg.out_dir = args.out
    texts = corpus_texts(cfg.data.train, text_column=cfg.data.text_column, errors=cfg.data.errors)
    t = cfg.tokenizer
    tok = Tokenizer.train(
        texts, kind=t.kind, vocab_size=t.vocab_size, min_freq=t.min_freq,
        lowercase=t.lowercase, max_length=t.max_length,
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


def _run_config(cls: type, args: argparse.Namespace):
    """A training run's config: the YAML file, its key=value overrides, and ``--out`` as ``out_dir``."""
    from textgen.config import load_config

    overrides = list(args.overrides) + ([f"out_dir={args.out}"] if args.out else [])
    return load_config(cls, args.config, overrides)


def cmd_train_vae(args: argparse.Namespace) -> int:
    """Train a sentence VAE (or the LM baseline) from a YAML config; ``--resume`` continues the run."""
    from textgen.vae.trainer import VAERunConfig, VAETrainer

    cfg = _run_config(VAERunConfig, args)
    valid = VAETrainer(cfg, resume=args.resume).fit()
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
    subset = f"_first{args.num_sentences}" if args.num_sentences else ""
    name = f"eval_{args.data.replace(':', '_').replace('/', '_')}{subset}.json"
    out = args.out or str(__import__("pathlib").Path(args.model) / name)
    write_report(report, out)
    print(f"wrote {out}")
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


def cmd_show_config(args: argparse.Namespace) -> int:
    """Print a config file resolved with overrides (validates it on the way)."""
    import yaml

    from textgen.config import config_to_dict, load_config

    from textgen.config import config_schema, schema_for_path

    cls = config_schema(args.kind) if args.kind else schema_for_path(args.config)
    cfg = load_config(cls, args.config, args.overrides)
    print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
    return 0



# ----------------------------------------------------------------------------- sentence-VAE pipeline commands

def _pipeline(args: argparse.Namespace):
    from textgen.pipelines import SentenceVAEPipeline

    return SentenceVAEPipeline.from_pretrained(args.model, device=args.device, show_progress=not args.json)


def _generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def _decoding_kwargs(args: argparse.Namespace) -> dict:
    return {"strategy": args.strategy, "beam_size": args.beam_size, "top_p": args.top_p}


def _print_json(obj) -> None:
    import json

    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _sentences_arg(args: argparse.Namespace) -> list[str]:
    """Sentences from the command line and/or ``--file`` (one per line, blank lines skipped)."""
    sentences = list(args.sentences)
    if args.file:
        from pathlib import Path

        path = Path(args.file)
        if not path.is_file():
            raise FileNotFoundError(f"--file {path} does not exist; pass a text file with one sentence per line")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"--file {path} is not UTF-8 text ({e.reason} at byte {e.start}); convert it to UTF-8") from None
        sentences += [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise ValueError("no sentences given: pass them as arguments or with --file FILE (one per line)")
    return sentences


def cmd_interpolate(args: argparse.Namespace) -> int:
    """Walk the latent space between two sentences and print the decoded path."""
    if args.steps < 1:
        raise ValueError(f"--steps must be a positive integer (points between the two sentences), got {args.steps}")
    pipe = _pipeline(args)
    out = pipe.interpolate(args.a, args.b, steps=args.steps, method=args.method, dedupe=not args.no_dedupe,
                           generator=_generator(args.seed), **_decoding_kwargs(args))
    if args.json:
        _print_json({"source": out.source, "target": out.target, "method": out.method,
                     "path": [{"weight": w, "sentence": s, "endpoint": e}
                              for s, w, e in zip(out.sentences, out.weights, out.is_endpoint)],
                     "unknown_words": out.unknown_words, "num_truncated": out.num_truncated})
        return 0
    print(f"# {out.method} path, {len(out.sentences)} distinct points; * marks the reconstructions of the endpoints")
    print(f"# A: {out.source}")
    print(f"# B: {out.target}")
    for line in out.lines():
        print(line)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Decode sentences from codes drawn from the prior."""
    pipe = _pipeline(args)
    out = pipe.sample(args.n, temperature=args.temperature, generator=_generator(args.seed), **_decoding_kwargs(args))
    if args.json:
        _print_json({"sentences": out.sentences, "seed": args.seed, "temperature": args.temperature})
    else:
        print("\n".join(out.sentences))
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    """Encode sentences to their posterior means and decode them back."""
    pipe = _pipeline(args)
    out = pipe.reconstruct(_sentences_arg(args), generator=_generator(args.seed), **_decoding_kwargs(args))
    if args.json:
        _print_json([{"input": i, "reconstruction": r} for i, r in zip(out.inputs, out.sentences)])
    else:
        for i, r in zip(out.inputs, out.sentences):
            print(f"  {i}\n> {r}")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    """Write posterior means (and log-variances) of sentences to .npy or .jsonl."""
    from pathlib import Path

    out_path = Path(args.out)
    if out_path.suffix not in (".npy", ".jsonl"):
        raise ValueError(f"--out must end in .npy or .jsonl, got {out_path.name}")
    pipe = _pipeline(args)
    enc = pipe.encode(_sentences_arg(args), batch_size=args.batch_size, return_logvar=args.logvar)
    from textgen.runtime import atomic_write_bytes, atomic_write_text

    if out_path.suffix == ".npy":
        import io

        import numpy as np

        buf = io.BytesIO()
        arr = enc.mu.numpy() if enc.logvar is None else np.stack([enc.mu.numpy(), enc.logvar.numpy()], axis=1)
        np.save(buf, arr)
        atomic_write_bytes(out_path, buf.getvalue())
        shape = "x".join(map(str, arr.shape))
    else:
        import json

        rows = []
        for i, text in enumerate(enc.texts):
            row = {"text": text, "mu": enc.mu[i].tolist()}
            if enc.logvar is not None:
                row["logvar"] = enc.logvar[i].tolist()
            rows.append(json.dumps(row))
        atomic_write_text(out_path, "\n".join(rows) + "\n")
        shape = f"{len(rows)} rows"
    if not args.json:
        print(f"wrote {shape} ({'mu, logvar' if enc.logvar is not None else 'mu'}) to {out_path}")
    return 0


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
        raise ValueError(f"--color {args.color!r} is not a column of {args.data} (columns: {', '.join(ds.column_names)}); "
                         "use 'length' or one of those")
    color = None if args.color == "length" else ds[args.color]
    label = "sentence length (tokens)" if args.color == "length" else args.color
    texts = ds["text"]
    maps, pipes = [], []
    for model in [args.model, *args.compare]:
        pipe = SentenceVAEPipeline.from_pretrained(model, device=args.device, show_progress=False)
        name = Path(str(model)).name if Path(str(model)).exists() else str(model)
        maps.append(latent_map(pipe, texts, name, color=color, color_label=label))
        pipes.append(pipe)
    out = plot_latent_maps(maps, args.out, title=f"{args.data}: {len(texts):,} sentences")
    print(f"wrote {out}")
    if args.path:
        res = pipes[0].interpolate(args.path[0], args.path[1], steps=args.steps, method=args.method, dedupe=False)
        path_out = Path(args.out).with_name(Path(args.out).stem + "_path" + Path(args.out).suffix)
        plot_interpolation_path(maps[0], res.latents.numpy(), res.sentences, path_out, method=args.method)
        print(f"wrote {path_out}")
    return 0


def cmd_export_hf(args: argparse.Namespace) -> int:
    """Write a model's encoder as a transformers folder (AutoModel / pipeline / trust_remote_code)."""
    from textgen.integrations.hf import export_hf

    out = export_hf(args.model, args.out)
    print(f"wrote {out}: load it with transformers.AutoModel.from_pretrained({str(out)!r}) after "
          "`import textgen.integrations.hf`, or with trust_remote_code=True without textgen")
    return 0


def cmd_make_birds(args: argparse.Namespace) -> int:
    """Render a synthetic-birds image folder with captions (grammar or real CUB captions)."""
    from textgen.data.birds import make_birds_dataset

    summary = make_birds_dataset(args.out, n=args.n, size=args.size, seed=args.seed,
                                 captions_from=args.captions_from, show_progress=not args.quiet)
    print(f"wrote {summary['images']:,} images of {summary['size']} px with {summary['captions']} captions "
          f"to {summary['out']} (metadata.jsonl; load with datasets.load_dataset('imagefolder', data_dir=...))")
    return 0


def cmd_train_text_encoder(args: argparse.Namespace) -> int:
    """Pre-train the GAN's caption encoder contrastively (InfoNCE) on an image-caption folder."""
    from textgen.data.images import ImageCaptionData
    from textgen.gan.text_encoder_training import save_caption_encoder, train_caption_encoder
    from textgen.runtime import resolve_device

    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    data = ImageCaptionData.load(args.data, image_size=args.size, limit=args.limit)
    enc, image_enc, report = train_caption_encoder(
        data, image_size=args.size, dim=args.dim, vocab_min_freq=args.min_freq, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, seed=args.seed, device=resolve_device(args.device), show_progress=not args.quiet,
        recon_weight=args.recon_weight, image_pool=args.image_pool, edited_negatives=args.edited_negatives,
        image_channels=args.image_channels, image_depth=args.image_depth)
    save_caption_encoder(enc, report, args.out, image_encoder=image_enc)
    print(report.summary())
    print(f"wrote {args.out}; use it in a GAN config with text_encoder.path={args.out}")
    return 0


def cmd_check_discriminator(args: argparse.Namespace) -> int:
    """Does a GAN run's saved D read the caption? Right vs one-word-edited vs random captions on real images."""
    import json
    from pathlib import Path

    from textgen.gan.diagnostics import discriminator_caption_check

    report = discriminator_caption_check(args.run, args.data, n=args.n, seed=args.seed)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


def cmd_probe_text_encoder(args: argparse.Namespace) -> int:
    """What a caption encoder carries (and, with --data, what its image half sees): a linear probe per attribute."""
    import json
    from pathlib import Path

    from textgen.gan.evaluate import grammar_captions
    from textgen.gan.text_encoder_training import IMAGE_ENCODER_DIR, attribute_probe, edit_ranking, image_attribute_probe
    from textgen.models.pretrained import resolve_model_path
    from textgen.models.text_encoder import CaptionEncoder, ImageEncoder

    if args.num_captions < 100:
        raise ValueError(f"--num-captions must be >= 100 (each attribute is stated by about a third), got {args.num_captions}")
    folder = resolve_model_path(args.encoder)
    if (folder / "text_encoder").is_dir():                        # a GAN model folder or a train-gan run folder
        folder = folder / "text_encoder"
    text_encoder = CaptionEncoder.from_pretrained(folder)
    probes = {"text": attribute_probe(text_encoder, grammar_captions(args.num_captions, seed=args.seed))}
    print(f"linear probes of {folder} (80% train / 20% held out)\n"
          f"text: {args.num_captions:,} grammar captions, each attribute probed on the captions that state it")
    if args.data:
        from textgen.data.images import ImageCaptionData

        if not (folder / IMAGE_ENCODER_DIR).is_dir():
            raise FileNotFoundError(f"{folder} has no {IMAGE_ENCODER_DIR}/ to probe (shipped GAN folders keep only the "
                                    "caption encoder); probe a train-text-encoder or train-gan output, or drop --data")
        image_encoder = ImageEncoder.from_pretrained(folder / IMAGE_ENCODER_DIR)
        data = ImageCaptionData.load(args.data, image_size=image_encoder.config.image_size, limit=args.num_images)
        probes["image"] = image_attribute_probe(image_encoder, data, n=args.num_images)
        probes["edit"] = edit_ranking(text_encoder, image_encoder, data, n=args.num_images, seed=args.seed + 1)
        print(f"image: the image encoder on {min(args.num_images, len(data)):,} real renders of {args.data}\n"
              "edit: how often a render's own caption scores above it with that attribute's word changed (chance 50%)")
    print("| attribute | " + " | ".join(f"{k} probe" if k != "edit" else "edit ranking" for k in probes)
          + " | majority class (text) |")
    print("|---|" + "---|" * (len(probes) + 1))
    for key, row in probes["text"].items():
        cells = [f"{probes[k][key]['accuracy']:.1%}" if key in probes[k] else "" for k in probes]
        print(f"| {key} | " + " | ".join(cells) + f" | {row['majority']:.1%} |")
    if "edit" in probes:
        print("| all edits | " + " | ".join([""] * (len(probes) - 1)) + f" | {probes['edit']['all']['accuracy']:.1%} | |")
    if args.out:
        Path(args.out).write_text(json.dumps({"encoder": str(folder), **probes}, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def cmd_train_gan(args: argparse.Namespace) -> int:
    """Train the text-to-image GAN from a YAML config; ``--resume`` continues the run."""
    from textgen.gan.trainer import GANRunConfig, GANTrainer

    cfg = _run_config(GANRunConfig, args)
    last = GANTrainer(cfg, resume=args.resume).fit()
    print(f"finished; model in {cfg.out_dir}/last, samples in {cfg.out_dir}/samples")
    if last:
        print(f"last losses: D {last['d_loss']:.3f}, G {last['g_loss']:.3f}")
    return 0


def cmd_eval_gan(args: argparse.Namespace) -> int:
    """Text-to-image quality of a GAN: attribute accuracy, FID/KID, R-precision, diversity; JSON + markdown."""
    import json
    from pathlib import Path

    from textgen.gan.evaluate import evaluate_gan, format_gan_report

    if args.num_captions < 1 or args.images_per_caption < 1 or args.num_images < 100:
        raise ValueError("--num-captions and --images-per-caption must be >= 1 and --num-images >= 100 "
                         "(R-precision ranks each caption among 100)")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    run_dir = Path(args.model) if (Path(args.model) / "last").is_dir() else None     # a train-gan run folder
    model = run_dir / "last" if run_dir else args.model
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = evaluate_gan(model, args.data, metrics=metrics, num_images=args.num_images,
                          num_captions=args.num_captions, images_per_caption=args.images_per_caption,
                          cub_captions_file=args.cub_captions, classifier_steps=args.classifier_steps,
                          encoder_steps=args.encoder_steps, truncation=args.truncation, seed=args.seed,
                          diversity_captions=args.diversity_captions, diversity_images=args.diversity_images,
                          device=args.device, show_progress=not args.quiet,
                          grid_out=out.with_name(out.stem + "_real_vs_generated.png") if args.plots else None)
    table = format_gan_report(report)
    print(table)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(table + "\n")
    print(f"wrote {out} and {out.with_suffix('.md')}" + (f" and {report['grid']}" if args.plots else ""))
    if args.plots and run_dir is not None:                         # training curves over kept checkpoints
        from textgen.gan.evaluate import evaluate_checkpoints
        from textgen.gan.plots import training_curves

        rows = evaluate_checkpoints(run_dir, args.data, num_captions=min(args.num_captions, 200),
                                    num_images=min(args.num_images, 2048), with_fid="fid" in metrics,
                                    classifier_steps=args.classifier_steps,
                                    truncation=args.truncation, seed=args.seed, device=args.device,
                                    show_progress=not args.quiet)
        report["curves"] = rows
        out.write_text(json.dumps(report, indent=2) + "\n")
        curves = training_curves(rows, out.with_name(out.stem + "_curves.png"), title=str(run_dir))
        print(f"wrote {curves} ({len(rows)} checkpoints)")
    return 0


def cmd_generate_images(args: argparse.Namespace) -> int:
    """Generate bird images from captions; PNGs per image and a captioned grid."""
    from pathlib import Path

    from textgen.pipelines import TextToImagePipeline

    captions = list(args.captions)
    if args.captions_file:
        path = Path(args.captions_file)
        if not path.is_file():
            raise FileNotFoundError(f"--captions-file {path} does not exist; pass a text file with one caption per line")
        lines = path.read_text(encoding="utf-8").splitlines()
        blank = sum(1 for line in lines if not line.strip())
        captions += [line.strip() for line in lines if line.strip()]
        if blank:
            print(f"note: skipped {blank} blank line(s) of {path}", file=sys.stderr)
    if not captions:
        raise ValueError("no captions given: pass them as arguments or with --captions-file FILE")
    if args.n < 1:
        raise ValueError(f"-n must be >= 1, got {args.n}")
    import torch

    pipe = TextToImagePipeline.from_pretrained(args.model, device=args.device)
    out = pipe(captions, num_images_per_caption=args.n, generator=torch.Generator().manual_seed(args.seed),
               truncation=args.truncation)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(out.images):
        img.save(out_dir / f"{i // args.n:03d}_{i % args.n:02d}.png")
    grid = Path(args.grid) if args.grid else out_dir / "grid.png"
    out.grid().save(grid)
    print(f"wrote {len(out.images)} images of {pipe.image_size} px to {out_dir} and a captioned grid to {grid}")
    return 0


# ----------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    from textgen import __version__

    parser = argparse.ArgumentParser(
        prog="textgen",
        description="Deep generative models of text: sentence VAEs and text-conditioned GANs.",
    )
    parser.add_argument("--version", action="version", version=f"textgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("demo", cmd_demo, "interpolate between sentences and sample from the prior with the shipped model")
    p.add_argument("--model", default="ptb-lstm-vae", help="model folder or shipped name (default: ptb-lstm-vae)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("-n", type=int, default=5, help="number of prior samples")
    p.add_argument("--images-out", default="demo_birds.png",
                   help="captioned grid of GAN birds (default demo_birds.png; '' to skip)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(json=False)

    p = add("train-tokenizer", cmd_train_tokenizer, "train the shared tokenizer from a YAML config")
    p.add_argument("--config", required=True, help="YAML file, e.g. configs/tokenizer/ptb_word.yaml")
    p.add_argument("--out", help="output folder (overrides out_dir)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. tokenizer.min_freq=2")

    p = add("corpus-info", cmd_corpus_info, "sizes, lengths and bucketed padding of a corpus")
    p.add_argument("--data", required=True, help="corpus spec: ptb:test, file.txt, 'dir/*.txt', file.jsonl, cub:file.jsonl.gz, hf:DIR")
    p.add_argument("--tokenizer", help="a saved tokenizer folder (default: a word tokenizer trained on the corpus)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--errors", choices=["strict", "replace"], default="strict")
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)

    p = add("train-vae", cmd_train_vae, "train a sentence VAE / LM baseline from a YAML config")
    p.add_argument("--config", required=True, help="YAML file, e.g. configs/vae/ptb_lstm.yaml")
    p.add_argument("--out", help="run folder (overrides out_dir)")
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/last exactly where it stopped")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.epochs=5 model.latent_size=16")

    p = add("train-gan", cmd_train_gan, "train the text-to-image GAN from a YAML config")
    p.add_argument("--config", required=True, help="YAML file, e.g. configs/gan/birds64.yaml")
    p.add_argument("--out", help="run folder (overrides out_dir)")
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/last exactly where it stopped")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.steps=2000")

    p = add("train-text-encoder", cmd_train_text_encoder,
            "pre-train the GAN's caption encoder contrastively (InfoNCE) on an image-caption folder")
    p.add_argument("--data", required=True, help="image folder with metadata.jsonl captions (textgen make-birds)")
    p.add_argument("--out", required=True, help="output folder (a CaptionEncoder with its tokenizer)")
    p.add_argument("--size", type=int, default=64, help="image size the GAN will use (default 64)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--dim", type=int, default=256, help="embedding size (default 256)")
    p.add_argument("--min-freq", type=int, default=2, help="minimum word count for the vocabulary (default 2)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--recon-weight", type=float, default=0.0,
                   help="weight of the caption reconstruction term that keeps small parts in the embedding (default 0)")
    p.add_argument("--image-pool", default="mean", choices=["mean", "flatten"],
                   help="the image encoder's last step: average the 4x4 map, or keep its 16 positions (default mean)")
    p.add_argument("--image-channels", type=int, default=32,
                   help="width of the image encoder's first conv; later ones double it up to 8x (default 32)")
    p.add_argument("--image-depth", type=int, default=1,
                   help="convs per resolution in the image encoder: 1 strided conv, plus depth-1 3x3 convs (default 1)")
    p.add_argument("--edited-negatives", action="store_true",
                   help="also rank each image against its caption with one colour/size/bill word changed")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit", type=int, help="use only the first N images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("probe-text-encoder", cmd_probe_text_encoder,
            "what a caption encoder carries: a linear probe per bird attribute on grammar captions")
    p.add_argument("--encoder", required=True,
                   help="caption encoder folder, or a GAN model/run folder holding text_encoder/ (e.g. birds-gan)")
    p.add_argument("--num-captions", type=int, default=12000, help="grammar captions of fresh random birds (default 12000)")
    p.add_argument("--data", help="a synthetic-birds folder: also probe the image encoder on its real renders")
    p.add_argument("--num-images", type=int, default=6000, help="renders for the image probe (default 6000)")
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--out", help="also write the probe as JSON here")

    p = add("check-discriminator", cmd_check_discriminator,
            "does a GAN run's discriminator read the caption? (right vs edited vs random captions)")
    p.add_argument("--run", required=True, help="a train-gan run folder (its last/ keeps D's training state)")
    p.add_argument("--data", required=True, help="a synthetic-birds image folder (textgen make-birds)")
    p.add_argument("--n", type=int, default=512, help="real images to score (default 512)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="also write the report here as JSON")

    p = add("eval-vae", cmd_eval_vae, "evaluate a saved VAE: ELBO, NLL, KL, PPL, IW-NLL, MI, active units")
    p.add_argument("--model", required=True, help="model folder (e.g. runs/vae/ptb_lstm/best)")
    p.add_argument("--data", default="ptb:test", help="corpus spec (default: ptb:test)")
    p.add_argument("--iw-samples", type=int, default=0, help="importance samples for IW-NLL (Burda et al. 2016), e.g. 500")
    p.add_argument("--num-sentences", type=int, help="evaluate the first N sentences only (default: all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recon-max-words", type=int, default=12,
                   help="greedy-reconstruct the sentences of at most this many words (0: skip)")
    p.add_argument("--out", help="JSON report path (default: <model>/eval_<data>.json, "
                                 "<model>/eval_<data>_first<N>.json with --num-sentences N)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("compare-nll", cmd_compare_nll,
            "paired -log p(x) of model folders on the same sentences (exact for an LM, IW bound for a VAE)")
    p.add_argument("models", nargs="+", help="model folders sharing one tokenizer; the first is the reference")
    p.add_argument("--data", default="ptb:test", help="corpus spec (default: ptb:test)")
    p.add_argument("--iw-samples", type=int, default=100, help="importance samples for a VAE's bound (default 100)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the report as JSON")

    def pipeline_options(p: argparse.ArgumentParser, decoding: bool = True) -> None:
        p.add_argument("--model", default="ptb-lstm-vae",
                       help="model folder (from train-vae) or a shipped name (default: ptb-lstm-vae)")
        p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        if decoding:
            p.add_argument("--strategy", default="greedy", choices=["greedy", "beam", "sample"])
            p.add_argument("--beam-size", type=int, default=5, help="beam width for --strategy beam")
            p.add_argument("--top-p", type=float, default=1.0, help="nucleus mass for --strategy sample")
            p.add_argument("--seed", type=int, default=0, help="random seed (sampling)")

    p = add("interpolate", cmd_interpolate, "decode the latent path between two sentences (Bowman et al. 2016)")
    p.add_argument("a", help="first sentence")
    p.add_argument("b", help="second sentence")
    p.add_argument("--steps", type=int, default=8, help="points between the two sentences (default 8)")
    p.add_argument("--method", default="slerp", choices=["slerp", "linear"])
    p.add_argument("--no-dedupe", action="store_true", help="print every point, also repeated sentences")
    pipeline_options(p)

    p = add("sample", cmd_sample, "decode sentences from codes drawn from the prior N(0, I)")
    p.add_argument("-n", type=int, default=5, help="number of sentences (default 5)")
    p.add_argument("--temperature", type=float, default=1.0, help="scale of the prior codes (default 1)")
    pipeline_options(p)

    for name, func, help in (("reconstruct", cmd_reconstruct, "encode sentences and decode them back"),
                             ("encode", cmd_encode, "write posterior means of sentences to .npy or .jsonl")):
        p = add(name, func, help)
        p.add_argument("sentences", nargs="*", help="sentences (or use --file)")
        p.add_argument("--file", help="text file, one sentence per line")
        pipeline_options(p, decoding=name == "reconstruct")
    p.add_argument("--out", required=True, help="output file: .npy (N x Z, or N x 2 x Z with --logvar) or .jsonl")
    p.add_argument("--logvar", action="store_true", help="also write the posterior log-variances")
    p.add_argument("--batch-size", type=int, default=64)

    p = add("plot-latent", cmd_plot_latent, "PCA map of posterior means, optionally beside an auto-encoder (needs matplotlib)")
    p.add_argument("--model", default="ptb-lstm-vae", help="model folder or shipped name")
    p.add_argument("--compare", nargs="*", default=[], metavar="MODEL", help="more models drawn beside it, e.g. a plain AE")
    p.add_argument("--data", default="ptb:test", help="corpus spec (default: ptb:test)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--color", default="length", help="'length' or a label column of the corpus (e.g. class_id)")
    p.add_argument("--max-points", type=int, default=3000, help="random subset of the corpus to draw")
    p.add_argument("--path", nargs=2, metavar=("A", "B"), help="also draw the interpolation path A -> B (<out>_path.png)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--method", default="slerp", choices=["slerp", "linear"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--out", default="latent.png", help="picture file (default latent.png)")

    p = add("export-hf", cmd_export_hf, "export a VAE's encoder as a Hugging Face transformers folder")
    p.add_argument("--model", default="ptb-lstm-vae", help="model folder or shipped name (default: ptb-lstm-vae)")
    p.add_argument("--out", required=True, help="output folder")

    p = add("make-birds", cmd_make_birds, "render procedural synthetic birds with captions (an HF imagefolder)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=20000, help="number of images (default 20000)")
    p.add_argument("--size", type=int, default=64, help="pixels, 32 to 256 (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--captions-from", help="a CUB caption JSONL(.gz): one image per real caption, drawn as it says")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("eval-gan", cmd_eval_gan, "text-to-image quality: attribute accuracy, FID/KID, R-precision, diversity")
    p.add_argument("--model", default="birds-gan",
                   help="GAN folder, shipped name (default: birds-gan) or a train-gan run folder (its last/ is "
                        "evaluated; with --plots, also every kept checkpoint, as training curves)")
    p.add_argument("--data", required=True, help="a synthetic-birds folder (textgen make-birds): the judge trains on it")
    p.add_argument("--cub-captions", help="also score real CUB captions, e.g. ../shared/data/cub_captions_train.jsonl.gz")
    p.add_argument("--metrics", default="attributes,fid,rprecision",
                   help="comma-separated subset of attributes,fid,rprecision (default: all)")
    p.add_argument("--num-images", type=int, default=30000,
                   help="generated images for FID/KID and R-precision (default 30000, capped at half the data: "
                        "the other half is the real reference)")
    p.add_argument("--encoder-steps", type=int, default=2000, help="training steps of the R-precision encoder if not cached")
    p.add_argument("--plots", action="store_true",
                   help="also write a real-vs-generated grid beside the report, and training curves for a run folder")
    p.add_argument("--num-captions", type=int, default=1000, help="attribute accuracy: captions per set (default 1000)")
    p.add_argument("--images-per-caption", type=int, default=2)
    p.add_argument("--classifier-steps", type=int, default=6000,  # textgen.gan.evaluate.JUDGE_STEPS (a test checks)
                   help="training steps of the judge if not cached")
    p.add_argument("--diversity-captions", type=int, default=20, help="captions for the mode-collapse check (0: skip)")
    p.add_argument("--diversity-images", type=int, default=10, help="images per caption for that check")
    p.add_argument("--truncation", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--out", default="eval_gan.json", help="JSON report; a markdown table goes beside it (.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = add("generate-images", cmd_generate_images, "generate bird images from captions with the text-to-image GAN")
    p.add_argument("captions", nargs="*", help="captions, e.g. 'a red bird with black wings'")
    p.add_argument("--captions-file", help="text file, one caption per line (blank lines are skipped)")
    p.add_argument("--model", default="birds-gan", help="GAN folder (a train-gan run's last/) or shipped name")
    p.add_argument("-n", type=int, default=4, help="images per caption (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0, help="truncation trick: < 1 trades variety for fidelity")
    p.add_argument("--out", default="generated", help="folder for the PNGs (default generated/)")
    p.add_argument("--grid", help="captioned grid file (default <out>/grid.png)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])

    p = add("show-config", cmd_show_config, "validate a config file and print it resolved with overrides")
    p.add_argument("--kind", default=None, help="config schema; default: the config's folder name (configs/<kind>/)")
    p.add_argument("--config", required=True)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                return int(args.func(args) or 0)
            finally:
                for w in caught:  # what the user should know (unknown words, truncation), one line each
                    print(f"warning: {w.message}", file=sys.stderr)
    except (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as e:
        # Our own errors (ConfigError, CorpusError, TokenizerError ...) are ValueErrors whose
        # message names the cause and the fix: print it, without a traceback.
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except RuntimeError as e:
        from textgen.runtime import TrainingDiverged

        if not isinstance(e, TrainingDiverged):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"interrupted: {e}" if str(e) else "interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
