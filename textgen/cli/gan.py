"""Text-to-image GAN sub-commands: synthetic birds, the caption encoder, training, evaluation, generation."""
from __future__ import annotations

import argparse
import sys

from textgen.cli.common import batch_size_option, device_option, run_config, seed_option, training_options


def cmd_make_birds(args: argparse.Namespace) -> int:
    """Render a synthetic-birds image folder with captions (grammar or real CUB captions)."""
    from textgen.birds.dataset import make_birds_dataset

    if (args.classes != "all" or args.grammar_birds) and not args.captions_from:
        raise ValueError("--classes and --grammar-birds go with --captions-from (a CUB caption file)")
    summary = make_birds_dataset(args.out, n=args.n, size=args.size, seed=args.seed,
                                 captions_from=args.captions_from, classes=args.classes,
                                 grammar_birds=args.grammar_birds, show_progress=not args.quiet)
    what = (f"{summary['real_caption_images']:,} with real CUB captions ({summary['classes']} classes) and "
            f"{summary['grammar_images']:,} with grammar captions" if args.captions_from else "grammar captions")
    print(f"wrote {summary['images']:,} images of {summary['size']} px, {what}, to {summary['out']} "
          "(metadata.jsonl; load with datasets.load_dataset('imagefolder', data_dir=...))")
    return 0


def cmd_train_text_encoder(args: argparse.Namespace) -> int:
    """Pre-train the GAN's caption encoder contrastively (InfoNCE) on an image-caption folder."""
    from textgen.data.images import ImageCaptionData
    from textgen.gan.text_encoder_training import save_caption_encoder, train_caption_encoder
    from textgen.core.runtime import resolve_device

    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    data = ImageCaptionData.load(args.data, image_size=args.size, limit=args.limit)
    enc, image_enc, report = train_caption_encoder(
        data, image_size=args.size, dim=args.dim, vocab_min_freq=args.min_freq, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, seed=args.seed, device=resolve_device(args.device), show_progress=not args.quiet,
        recon_weight=args.recon_weight, image_pool=args.image_pool,
        image_channels=args.image_channels, image_depth=args.image_depth, image_downsample=args.image_downsample,
        tokenizer_kind=args.tokenizer, vocab_size=args.vocab_size, typo_rate=args.typo_rate)
    save_caption_encoder(enc, report, args.out, image_encoder=image_enc)
    print(report.summary())
    print(f"wrote {args.out}; use it in a GAN config with text_encoder.path={args.out}")
    return 0


def cmd_check_discriminator(args: argparse.Namespace) -> int:
    """Does a GAN run's saved D read the caption? Right vs one-word-edited vs random captions on real images."""
    import json
    from pathlib import Path

    from textgen.gan.eval.diagnostics import discriminator_caption_check

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

    from textgen.gan.eval.common import grammar_captions
    from textgen.gan.text_encoder_training import IMAGE_ENCODER_DIR, attribute_probe, edit_ranking, image_attribute_probe
    from textgen.core.pretrained import resolve_model_path
    from textgen.gan.text_encoders import ImageEncoder, load_text_encoder, text_encoder_kind

    if args.num_captions < 100:
        raise ValueError(f"--num-captions must be >= 100 (each attribute is stated by about a third), got {args.num_captions}")
    folder = resolve_model_path(args.encoder)
    if (folder / "text_encoder").is_dir():                        # a GAN model folder or a train-gan run folder
        folder = folder / "text_encoder"
    kind = text_encoder_kind(folder)                              # a caption encoder, or a sentence VAE's encoder
    if kind == "hf":
        raise ValueError(f"{folder} is not a textgen caption encoder or sentence VAE; probe one of those")
    text_encoder = load_text_encoder(folder, kind)
    probes = {"text": attribute_probe(text_encoder, grammar_captions(args.num_captions, seed=args.seed))}
    print(f"linear probes of {folder} (80% train / 20% held out)\n"
          f"text: {args.num_captions:,} grammar captions, each attribute probed on the captions that state it")
    if args.cub_captions:
        from textgen.gan.eval.common import cub_captions

        real = cub_captions(args.cub_captions, args.num_captions, seed=args.seed, classes="heldout")
        probes["cub text"] = attribute_probe(text_encoder, real)
        print(f"cub text: {len(real):,} real captions of the 30 held-out CUB classes, with what the parser reads in them")
        if args.typo_rate > 0:
            import numpy as np

            from textgen.gan.text_encoder_training import misspell

            rng = np.random.default_rng(args.seed)
            probes["cub misspelt"] = attribute_probe(text_encoder, [(misspell(c, rng, args.typo_rate), s) for c, s in real])
            print(f"cub misspelt: the same captions with {args.typo_rate:.0%} of their words of 4+ letters misspelt "
                  "(one edit each)")
    if args.data:
        from textgen.data.images import ImageCaptionData

        if kind == "vae" or not (folder / IMAGE_ENCODER_DIR).is_dir():
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
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer

    cfg = run_config(GANRunConfig, args)
    trainer = GANTrainer(cfg, resume=args.resume, overwrite=args.overwrite)
    last = trainer.fit()
    if not trainer.dist.is_main:                   # under torchrun, rank 0 reports
        return 0
    print(f"finished; model in {cfg.out_dir}/last, samples in {cfg.out_dir}/samples")
    if last:
        print(f"last losses: D {last['d_loss']:.3f}, G {last['g_loss']:.3f}")
    return 0


def cmd_eval_gan(args: argparse.Namespace) -> int:
    """Text-to-image quality of a GAN: attribute accuracy, FID/KID, R-precision, diversity; JSON + markdown."""
    import json
    from pathlib import Path

    from textgen.gan.eval.evaluate import evaluate_gan
    from textgen.gan.eval.report import format_gan_report

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
                          cub_captions_file=args.cub_captions, cub_classes=args.cub_classes,
                          classifier_steps=args.classifier_steps,
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
        from textgen.gan.eval.evaluate import evaluate_checkpoints
        from textgen.gan.eval.plots import training_curves

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


MAX_IMAGES = 1_000_000          # images per generate-images command


def read_captions_file(path) -> list[str]:
    """One caption per line of a UTF-8 text file; blank lines are skipped (and counted on stderr). A line that is
    not UTF-8 is an error naming the file and the line."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--captions-file {path} does not exist; pass a text file with one caption per line")
    captions, blank = [], 0
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}, line {lineno}, is not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1}: "
                                 f"{raw[:60]!r}); save the file as UTF-8") from None
            if line.strip():
                captions.append(line.strip())
            else:
                blank += 1
    if blank:
        print(f"note: skipped {blank} blank line(s) of {path}", file=sys.stderr)
    return captions


def cmd_generate_images(args: argparse.Namespace) -> int:
    """Generate bird images from captions, chunk by chunk: PNGs per image and a captioned grid of the first ones."""
    from pathlib import Path

    captions = list(args.captions) + (read_captions_file(args.captions_file) if args.captions_file else [])
    if not captions:
        raise ValueError("no captions given: pass them as arguments or with --captions-file FILE")
    if args.n < 1:
        raise ValueError(f"-n must be >= 1, got {args.n}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not (1 <= args.grid_rows <= 64 and 1 <= args.grid_cols <= 64):
        raise ValueError(f"--grid-rows and --grid-cols must be in 1..64, got {args.grid_rows} and {args.grid_cols}")
    total = len(captions) * args.n
    if total > MAX_IMAGES:
        raise ValueError(f"-n {args.n:,} for {len(captions):,} caption(s) is {total:,} images, over the limit of "
                         f"{MAX_IMAGES:,} per command; split the work over several commands (with different --seed)")
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"--out {out_dir} is an existing file; pass a folder for the PNGs (it is created)")
    grid = Path(args.grid) if args.grid else out_dir / "grid.png"
    if grid.is_dir():
        raise IsADirectoryError(f"--grid {grid} is a folder; pass a file name such as {grid / 'grid.png'}")
    import torch

    from textgen.core.runtime import progress
    from textgen.core.pictures import captioned_grid
    from textgen.gan.pipeline import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained(args.model, device=args.device)
    for note in pipe.caption_notes(captions):
        print(f"warning: {note}", file=sys.stderr)
    wc, wi = max(3, len(str(len(captions) - 1))), max(2, len(str(args.n - 1)))
    rows, cols = min(args.grid_rows, len(captions)), min(args.grid_cols, args.n)
    tiles = {}                                              # (row, col) -> image, for the grid
    bar = progress(total=total, enabled=not args.quiet, desc="images", unit="img")
    chunks = pipe.stream(captions, num_images_per_prompt=args.n, generator=torch.Generator().manual_seed(args.seed),
                         truncation=args.truncation, batch_size=args.batch_size, warn=False)
    for chunk in chunks:                                    # the stream checks every caption before the first
        out_dir.mkdir(parents=True, exist_ok=True)
        for k, img in enumerate(chunk.images):
            i = chunk.extra["start"] + k
            c, j = divmod(i, args.n)
            img.save(out_dir / f"{c:0{wc}d}_{j:0{wi}d}.png")
            if c < rows and j < cols:
                tiles[c, j] = chunk.tensors[k]
        bar.update(len(chunk.images))
    bar.close()
    order = [(r, c) for r in range(rows) for c in range(cols)]
    captioned_grid(torch.stack([tiles[rc] for rc in order]), captions[:rows], per_row=cols).save(grid)
    shown = f"the first {rows} caption(s) x {cols} image(s)" if (rows, cols) != (len(captions), args.n) else "all of them"
    print(f"wrote {total:,} images of {pipe.image_size} px to {out_dir} and a captioned grid of {shown} to {grid}")
    return 0


# ----------------------------------------------------------------------------- parser


def register(add) -> None:
    """Add this module's sub-commands to the parser (``add(name, func, help)`` returns the sub-parser)."""
    p = add("make-birds", cmd_make_birds, "render procedural synthetic birds with captions (an HF imagefolder)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("-n", type=int, default=20000, help="number of images (default 20000)")
    p.add_argument("--size", type=int, default=64, help="pixels, 32 to 256 (default 64)")
    seed_option(p, 0)
    p.add_argument("--captions-from", help="a CUB caption JSONL(.gz): one image per real caption, drawn as it says "
                   "(--n: at most that many)")
    p.add_argument("--classes", default="all", choices=["all", "train", "heldout"],
                   help="with --captions-from: the captions of every class, of the training classes, or of the 30 "
                   "held-out ones (textgen.birds.CUB_HELDOUT_CLASSES; default all)")
    p.add_argument("--grammar-birds", type=int, default=0,
                   help="with --captions-from: this many grammar-captioned birds after the real ones (default 0)")
    p = add("train-text-encoder", cmd_train_text_encoder,
            "pre-train the GAN's caption encoder contrastively (InfoNCE) on an image-caption folder")
    p.add_argument("--data", required=True, help="image folder with metadata.jsonl captions (textgen make-birds)")
    p.add_argument("--out", required=True, help="output folder (a CaptionEncoder with its tokenizer)")
    p.add_argument("--size", type=int, default=64, help="image size the GAN will use (default 64)")
    p.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    p.add_argument("--dim", type=int, default=256, help="embedding size (default 256)")
    p.add_argument("--min-freq", type=int, default=2, help="minimum word count for the vocabulary (default 2)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--recon-weight", type=float, default=0.0,
                   help="weight of the caption reconstruction term that keeps small parts in the embedding (default 0)")
    p.add_argument("--image-pool", default="mean", choices=["mean", "flatten"],
                   help="the image encoder's last step: average the 4x4 map, or keep its 16 positions (default mean)")
    p.add_argument("--image-channels", type=int, default=32,
                   help="width of the image encoder's first conv; later ones double it up to 8x (default 32)")
    p.add_argument("--image-depth", type=int, default=1,
                   help="convs per resolution in the image encoder: 1 strided conv, plus depth-1 3x3 convs (default 1)")
    p.add_argument("--image-downsample", default="strided", choices=["strided", "blur"],
                   help="the image encoder's halving: strided 4x4 convs, or a 3x3 conv and a binomial blur (default strided)")
    p.add_argument("--tokenizer", default="word", choices=["word", "unigram", "bpe"],
                   help="word vocabulary (unknown words are <unk>) or subword pieces (default word)")
    p.add_argument("--vocab-size", type=int, default=2000, help="subword tokenizers: pieces (default 2000)")
    p.add_argument("--typo-rate", type=float, default=0.0,
                   help="share of words of 4+ letters misspelt in the contrastive captions (default 0)")
    batch_size_option(p, 64)
    p.add_argument("--limit", type=int, help="use only the first N images")
    seed_option(p, 0)
    device_option(p, "auto")
    p = add("probe-text-encoder", cmd_probe_text_encoder,
            "what a caption encoder carries: a linear probe per bird attribute on grammar captions")
    p.add_argument("--encoder", required=True,
                   help="caption encoder folder, or a GAN model/run folder holding text_encoder/ (e.g. birds-gan)")
    p.add_argument("--num-captions", type=int, default=12000, help="grammar captions of fresh random birds (default 12000)")
    p.add_argument("--data", help="a synthetic-birds folder: also probe the image encoder on its real renders")
    p.add_argument("--cub-captions", help="a CUB caption JSONL(.gz): also probe on real captions of the held-out classes")
    p.add_argument("--typo-rate", type=float, default=0.0,
                   help="with --cub-captions: also probe them with this share of long words misspelt (e.g. 0.2)")
    p.add_argument("--num-images", type=int, default=6000, help="renders for the image probe (default 6000)")
    seed_option(p, 123)
    p.add_argument("--out", help="also write the probe as JSON here")
    p = add("check-discriminator", cmd_check_discriminator,
            "does a GAN run's discriminator read the caption? (right vs edited vs random captions)")
    p.add_argument("--run", required=True, help="a train-gan run folder (its last/ keeps D's training state)")
    p.add_argument("--data", required=True, help="a synthetic-birds image folder (textgen make-birds)")
    p.add_argument("-n", type=int, default=512, help="real images to score (default 512)")
    seed_option(p, 1)
    p.add_argument("--out", help="also write the report here as JSON")
    p = add("train-gan", cmd_train_gan, "train the text-to-image GAN from a YAML config")
    training_options(p, "configs/gan/birds64.yaml", "train.steps=2000")
    p = add("eval-gan", cmd_eval_gan, "text-to-image quality: attribute accuracy, FID/KID, R-precision, diversity")
    p.add_argument("--model", default="birds-gan",
                   help="GAN folder, shipped name (default: birds-gan) or a train-gan run folder (its last/ is "
                        "evaluated; with --plots, also every kept checkpoint, as training curves)")
    p.add_argument("--data", required=True, help="a synthetic-birds folder (textgen make-birds): the judge trains on it")
    p.add_argument("--cub-captions", help="also score real CUB captions, e.g. ../shared/data/cub_captions_train.jsonl.gz")
    p.add_argument("--cub-classes", default="heldout", choices=["heldout", "train", "all"],
                   help="which classes' captions --cub-captions scores: the 30 held-out ones no shipped recipe trains "
                   "on (default), the 120 training classes, or all")
    p.add_argument("--metrics", default="attributes,fid,rprecision",
                   help="comma-separated subset of attributes,fid,rprecision (default: all)")
    p.add_argument("--num-images", type=int, default=30000,
                   help="generated images for FID/KID and R-precision (default 30000, capped at half the data: "
                        "the other half is the real reference)")
    p.add_argument("--encoder-steps", type=int, default=2000, help="training steps of the R-precision encoder if not cached")
    p.add_argument("--plots", action="store_true",
                   help="also write a real-vs-generated grid beside the report, and training curves for a run folder")
    p.add_argument("--num-captions", type=int, default=1000, help="attribute accuracy: captions per set (default 1000)")
    p.add_argument("--images-per-caption", type=int, default=2,
                   help="attribute accuracy: images drawn per caption (default 2)")
    p.add_argument("--classifier-steps", type=int, default=6000,  # textgen.gan.eval.judge.JUDGE_STEPS (a test checks)
                   help="training steps of the judge if not cached")
    p.add_argument("--diversity-captions", type=int, default=20, help="captions for the mode-collapse check (0: skip)")
    p.add_argument("--diversity-images", type=int, default=10, help="images per caption for that check")
    p.add_argument("--truncation", type=float, default=1.0,
                   help="truncation trick: < 1 trades variety for fidelity (default 1: none)")
    seed_option(p, 0)
    device_option(p, "cpu")
    p.add_argument("--out", default="eval_gan.json", help="JSON report; a markdown table goes beside it (.md)")
    p = add("generate-images", cmd_generate_images, "generate bird images from captions with the text-to-image GAN")
    p.add_argument("captions", nargs="*", help="captions, e.g. 'a red bird with black wings'")
    p.add_argument("--captions-file", help="text file, one caption per line (blank lines are skipped)")
    p.add_argument("--model", default="birds-gan", help="GAN folder (a train-gan run's last/) or shipped name")
    p.add_argument("-n", type=int, default=4, help=f"images per caption (default 4; at most {MAX_IMAGES:,} images in all)")
    seed_option(p, 0)
    p.add_argument("--truncation", type=float, default=1.0, help="truncation trick: < 1 trades variety for fidelity")
    p.add_argument("--out", default="generated", help="folder for the PNGs (default generated/)")
    p.add_argument("--grid", help="captioned grid file (default <out>/grid.png)")
    p.add_argument("--grid-rows", type=int, default=8, help="captions shown in the grid, the first ones (default 8)")
    p.add_argument("--grid-cols", type=int, default=8, help="images per caption shown in the grid (default 8)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="images generated and written at a time; memory does not grow with -n (default 64)")
    device_option(p, "cpu")
