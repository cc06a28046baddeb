"""Does a cVAE-GAN run's noise carry the scene? Background shares of real renders, of their reconstructions,
and of images from plain noise for the same captions.

    python scripts/posterior_scenes.py --run runs/gan/<run trained with train.recon> --data data/birds32

The run's ``last/`` holds the EMA generator and, in its training state, the posterior encoder E. For the
first N renders of the folder (their first caption each), G draws (1) from a sample of E's posterior for the
render, q(z | x) -- the reconstruction -- and (2) from fresh N(0, I) noise, as at sampling time. eval-gan's
cached scene classifier reads every background. If the reconstructions keep the renders' backgrounds but the
plain-noise images do not, the scene is in the noise where E puts it, and N(0, I) rarely lands there.
"""
from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a train-gan run folder trained with train.recon > 0")
    ap.add_argument("--data", required=True, help="the synthetic-birds folder the run was trained on")
    ap.add_argument("--images", type=int, default=512, help="real renders to reconstruct (default 512)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from pathlib import Path

    import torch

    from textgen.checkpoint import TRAINING_STATE_DIR, load_tree
    from textgen.data.images import ImageCaptionData
    from textgen.gan.evaluate import load_or_train_scene_classifier, scene_shares
    from textgen.gan.model import load_gan_folder
    from textgen.models.gan import Generator, PosteriorEncoder

    last = Path(args.run) / "last"
    loaded, state = load_gan_folder(last), load_tree(last / TRAINING_STATE_DIR)
    if "E" not in state:
        raise SystemExit(f"{last} has no posterior encoder: the run was trained without train.recon")
    cfg = loaded["config"]
    G, E = Generator(cfg).eval(), PosteriorEncoder(cfg).eval()
    G.load_state_dict(loaded["generator_ema"])
    E.load_state_dict(state["E"])
    clf, _ = load_or_train_scene_classifier(args.data, cfg.image_size, show_progress=False)
    if clf is None:
        raise SystemExit(f"{args.data} has no scene labels in metadata.jsonl; re-render it with `textgen make-birds`")
    data = ImageCaptionData.load(args.data, image_size=cfg.image_size, limit=args.images)
    x = torch.from_numpy(data.images).float() / 127.5 - 1                           # (N, 3, S, S)
    e = loaded["text_encoder"].encode([caps[0] for caps in data.captions]).float()  # (N, E)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        mu, logvar = E(x)
        rec = G(mu + torch.randn_like(mu) * (0.5 * logvar).exp(), e)
        prior = G(torch.randn_like(mu), e)
    labels = {name: clf.predict(images) for name, images in
              (("real renders", x), ("reconstructions (z from E's posterior)", rec), ("plain N(0, I) noise", prior))}
    names = clf.classes["background"]
    print(f"{last} (step {int(state['step'])}), {len(x)} renders\n\n| images | " + " | ".join(names) + " |\n|---|"
          + "---|" * len(names))
    for name, lab in labels.items():
        shares = scene_shares(clf, lab)["background"]
        print(f"| {name} | " + " | ".join(f"{p:.1%}" for p in shares.tolist()) + " |")
    rec_bg, real_bg = labels["reconstructions (z from E's posterior)"]["background"], labels["real renders"]["background"]
    agree = float((rec_bg == real_bg).float().mean())
    print(f"\nreconstructions with their render's background: {agree:.1%}")


if __name__ == "__main__":
    main()
