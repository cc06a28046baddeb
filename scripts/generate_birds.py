#!/usr/bin/env python
"""Draw birds for captions with the text-to-image GAN and save them as one captioned picture.

    python scripts/generate_birds.py "a red bird with black wings" "a yellow bird with a short black bill"
    python scripts/generate_birds.py "a blue bird" -n 8 --seed 1 --out blue.png --model runs/gan/birds32_cpu/last

The picture has one row per caption, ``-n`` images each, with the caption written under its row. The same
``--seed`` draws the same birds. ``textgen generate-images`` also writes every image as its own file.
"""
import argparse

import torch

from textgen.pipelines import TextToImagePipeline

MAX_PER_CAPTION = 16                                 # a row stays a picture, not a banner


def main() -> None:
    ap = argparse.ArgumentParser(description="Draw birds for captions into one captioned picture.")
    ap.add_argument("captions", nargs="+", help="one or more captions, e.g. 'a red bird with black wings'")
    ap.add_argument("--model", default="birds-gan", help="a shipped model name or a train-gan run's last/ folder "
                                                         "(default: birds-gan)")
    ap.add_argument("-n", "--num-images", type=int, default=4, help="images per caption (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of the noise (default 0)")
    ap.add_argument("--out", default="birds.png", help="the picture to write (default birds.png)")
    args = ap.parse_args()
    if not 1 <= args.num_images <= MAX_PER_CAPTION:
        ap.error(f"-n must be between 1 and {MAX_PER_CAPTION}")

    pipe = TextToImagePipeline.from_pretrained(args.model)
    try:
        out = pipe(args.captions, num_images_per_prompt=args.num_images,
                   generator=torch.Generator().manual_seed(args.seed))
    except ValueError as e:                          # an empty caption, or one with no word the model knows
        ap.exit(2, f"error: {e}\n")

    picture = out.grid(max_captions=len(args.captions), max_per_caption=args.num_images)
    picture.save(args.out)
    print(f"wrote {args.out}: {len(args.captions)} caption(s) x {args.num_images} image(s), "
          f"{picture.width}x{picture.height} px")


if __name__ == "__main__":
    main()
