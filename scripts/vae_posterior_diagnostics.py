#!/usr/bin/env python
"""How tight is the IW-NLL, and how much of z does the generative model itself use?

    python scripts/vae_posterior_diagnostics.py --model runs/vae/ptb_lstm/best --data ptb:valid \
        --num-sentences 150 --samples 1000

For the first ``--num-sentences`` sentences of ``--data`` it draws ``--samples`` = K posterior samples per
sentence once and prints:

* the IW-NLL for k = 1 ... K (Burda et al. 2016; k = 1 is the ELBO), each the mean of K // k disjoint
  estimates: how far the reported IW-NLL (k = 100 or 500) may still be from -log p(x);
* the KL of the true posterior, KL(p(z|x) || p(z)) = E_p(z|x)[log p(x|z)] - log p(x), by self-normalised
  importance sampling, beside the encoder's KL(q(z|x) || p(z)) and the effective sample size. When the
  encoder's KL is far above the true posterior's, q encodes information that p(x|z) does not use, and IW
  estimates converge slowly (small ESS).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from textgen.runtime import resolve_device
from textgen.vae.evaluate import load_model_and_split
from textgen.vae.metrics import iw_log_weights, iw_nll_by_samples, true_posterior_kl
from textgen.vae.trainer import TokenizedSplit, iterate_batches
from textgen.models.vae import gaussian_kl


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a saved VAE folder (mode='vae')")
    ap.add_argument("--data", required=True, help="corpus spec, e.g. ptb:valid or a text file")
    ap.add_argument("--num-sentences", type=int, default=150)
    ap.add_argument("--samples", type=int, default=1000, help="K posterior samples per sentence")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", help="also write the numbers as JSON here")
    args = ap.parse_args(argv)

    dev = resolve_device(args.device)
    model, split = load_model_and_split(args.model, args.data, dev)
    if model.config.mode != "vae":
        sys.exit(f"error: {args.model} is a mode={model.config.mode!r} model; these diagnostics need a VAE")
    n = min(args.num_sentences, len(split.ids))
    split = TokenizedSplit(ids=split.ids[:n], lengths=split.lengths[:n])
    model.eval()
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    t0 = time.perf_counter()
    log_w, log_p, kl_q = [], [], []
    for ids, lengths in iterate_batches(split, args.batch_size, model.tokenizer.pad_id, shuffle=False):
        ids = ids.to(dev)
        mu, logvar = model.encode(ids, lengths)
        w, p = iw_log_weights(model, ids, lengths, args.samples, mu=mu, logvar=logvar, generator=gen)
        log_w.append(w.cpu())
        log_p.append(p.cpu())
        kl_q.append(gaussian_kl(mu.float(), logvar.float()).sum(-1).cpu())
    log_w, log_p = torch.cat(log_w, 1), torch.cat(log_p, 1)                         # (K, N)
    K = args.samples
    ks = sorted({k for k in (1, 10, 50, 100, 200, 500, 1000, 2000, 5000) if k <= K} | {K})
    curve = iw_nll_by_samples(log_w, ks)
    post = true_posterior_kl(log_w, log_p)
    report = {"model": args.model, "data": args.data, "num_sentences": n, "samples": K, "seed": args.seed,
              "iw_nll_by_k": curve, "encoder_kl": float(torch.cat(kl_q).mean()), **post,
              "seconds": round(time.perf_counter() - t0, 1)}
    print(f"{args.model} on the first {n} sentences of {args.data}, K = {K} samples each "
          f"({report['seconds']:.0f} s, {torch.get_num_threads()} threads)")
    print("| k | IW-NLL (nats/sentence) |\n|---|---|")
    for k, v in curve.items():
        print(f"| {k} | {v:.3f} |")
    print(f"encoder KL(q(z|x) || p(z))          {report['encoder_kl']:.2f}")
    print(f"true-posterior KL(p(z|x) || p(z))   {post['posterior_kl']:.2f}  (SNIS, ESS {post['ess']:.1f} of {K})")
    print(f"E_p(z|x)[-log p(x|z)]               {post['posterior_rec']:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
