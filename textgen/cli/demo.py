"""``textgen demo``: the quickstart with the shipped models."""
from __future__ import annotations

import argparse

from textgen.cli.common import device_option, seed_option, seeded_generator
from textgen.cli.vae import vae_pipeline
from textgen.core.shipped import DEFAULT_VAE


DEMO_PAIRS = [     # typed as a user would: the model reads cased, punctuated text as it is
    ("I want to talk to you.", "She didn't want to be with him."),
    ("This small bird has a blue crown and a white belly.", "A large black bird with a long orange beak."),
]


def cmd_demo(args: argparse.Namespace) -> int:
    """The quickstart: interpolate between sentences and sample from the prior with the shipped model."""
    import time

    from textgen.core.pretrained import PRETRAINED_MODELS, resolve_model_path

    t0 = time.perf_counter()
    if args.model in PRETRAINED_MODELS:
        try:
            resolve_model_path(args.model)
        except ValueError as e:  # the shipped weights are not in this checkout yet
            print(f"note: {e}\nmeanwhile, a tour of the data layer that every model shares:\n")
            return _data_tour()
    pipe = vae_pipeline(args)
    gen = seeded_generator(args.seed)
    print(f"model: {args.model} ({pipe.model.config.encoder.upper()} encoder / {pipe.model.config.decoder.upper()} "
          f"decoder, latent {pipe.model.config.latent_size}, vocabulary {pipe.tokenizer.vocab_size:,})\n")
    for a, b in DEMO_PAIRS:
        print(f"slerp from {a!r}\n        to {b!r}   (* = reconstructions of the two ends)")
        try:
            out = pipe.interpolate(a, b, steps=args.steps)
        except ValueError as e:                 # a --model whose vocabulary cannot read the demo's sentences
            print(f"   (not with this model: {e})\n")
            continue
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

    from textgen.core.pretrained import resolve_model_path
    from textgen.gan.pipeline import TextToImagePipeline

    try:
        resolve_model_path("birds-gan")
    except ValueError as e:
        print(f"\n(no bird images: {e})")
        return
    pipe = TextToImagePipeline.from_pretrained("birds-gan")
    result = pipe(DEMO_CAPTIONS, num_images_per_prompt=6, generator=torch.Generator().manual_seed(seed))
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


# ----------------------------------------------------------------------------- parser


def register(add) -> None:
    """Add this module's sub-commands to the parser (``add(name, func, help)`` returns the sub-parser)."""
    p = add("demo", cmd_demo, "interpolate between sentences and sample from the prior with the shipped model")
    p.add_argument("--model", default=DEFAULT_VAE, help=f"model folder or shipped name (default: {DEFAULT_VAE})")
    device_option(p, "cpu")
    p.add_argument("--steps", type=int, default=6, help="points between the two demo sentences (default 6)")
    p.add_argument("-n", type=int, default=5, help="number of prior samples")
    p.add_argument("--images-out", default="demo_birds.png",
                   help="captioned grid of GAN birds (default demo_birds.png; '' to skip)")
    seed_option(p, 0)
    p.set_defaults(json=False)
