"""Does a GAN's InfoGAN code choose the scene? Background and facing shares under each code value.

    python scripts/scene_by_code.py --data data/birds32 --models runs/gan/<run>/checkpoints/step_002000 [...]

For each model: the same grammar captions and noises (eval-gan's scene protocol: one image per caption, noise
seed 3), with the code set to each value in turn (``with_info_code``: z's largest code component swapped into
that slot) and once as drawn ("free"). eval-gan's cached scene classifier reads the backgrounds and facings.
A code that chooses the background gives a different background under each value. A model without a code
(``model.info_codes: 0``) gets the "free" row only.
"""
from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the synthetic-birds folder the models were trained on")
    ap.add_argument("--models", nargs="+", required=True, help="GAN model folders (a run's checkpoints/step_XXXXXX or last)")
    ap.add_argument("--captions", type=int, default=500, help="grammar captions, one image each (default: eval-gan's 500)")
    ap.add_argument("--seed", type=int, default=3, help="noise seed (default: eval-gan's scene seed)")
    args = ap.parse_args()

    import torch

    from textgen.gan.evaluate import grammar_captions, load_or_train_scene_classifier, scene_shares
    from textgen.models.gan import with_info_code
    from textgen.pipelines import TextToImagePipeline

    captions = [c for c, _ in grammar_captions(args.captions)]
    print("| model | code | " + " | ".join(["background", "facing"]) + " |\n|---|---|---|---|")
    for folder in args.models:
        pipe = TextToImagePipeline.from_pretrained(folder)
        G, k = pipe.generator, pipe.generator.config.info_codes
        clf, _ = load_or_train_scene_classifier(args.data, G.config.image_size, show_progress=False)
        if clf is None:
            raise SystemExit(f"{args.data} has no scene labels in metadata.jsonl; re-render it with `textgen make-birds`")
        e = pipe.text_encoder.encode(captions).float().to(pipe.device)                 # (N, E)
        z = torch.randn(len(captions), G.config.noise_dim, generator=torch.Generator().manual_seed(args.seed))
        for code in [*range(k), None]:
            zc = z if code is None else with_info_code(z, code, k)
            with torch.no_grad():
                shares = scene_shares(clf, clf.predict(G(zc.to(pipe.device), e).float().cpu()))
            cells = [" / ".join(f"{n} {p:.0%}" for n, p in zip(names, shares[head].tolist()))
                     for head, names in clf.classes.items()]
            print(f"| {folder} | {'free' if code is None else code} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
