"""The markdown tables of ``textgen eval-gan``'s reports."""
from __future__ import annotations

import numpy as np

from textgen.gan.eval.attributes import RELIABLE_JUDGE

__all__ = ["format_attribute_report", "format_gan_report"]


def _shares(p: dict[str, float]) -> str:
    return " / ".join(f"{name} {share:.0%}" for name, share in p.items())


def format_attribute_report(report: dict) -> str:
    clf = report["classifier"]
    sets = [k for k in ("grammar", "cub") if k in report]
    keys = sorted(set(clf["accuracy"]) | {k for s in sets for k in report[s]["per_attribute"]})
    lines = [f"attribute accuracy of {report['model']} ({report['image_size']} px, {report['images_per_caption']} "
             f"images per caption, truncation {report['truncation']})",
             "| attribute | real renders (judge ceiling) | " + " | ".join(f"generated, {s} captions" for s in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    for k in keys:
        cells = [f"{report[s]['per_attribute'][k]:.1%}" if k in report[s]["per_attribute"] else "-" for s in sets]
        lines.append(f"| {k} | {clf['accuracy'].get(k, float('nan')):.1%} | " + " | ".join(cells) + " |")
    lines.append(f"| **all stated** | {clf['mean_accuracy']:.1%} (mean) | "
                 + " | ".join(f"**{report[s]['accuracy']:.1%}** of {report[s]['stated']:,} (chance {report[s]['chance']:.1%})"
                              for s in sets) + " |")
    if all("reliable" in report[s] for s in sets):
        heads = report[sets[0]]["reliable"]["attributes"]
        lines.append(f"| **judge-reliable heads** (>= {RELIABLE_JUDGE:.0%} on real renders: {len(heads)}) | "
                     f"{np.mean([clf['accuracy'][k] for k in heads]) if heads else float('nan'):.1%} (mean) | "
                     + " | ".join(f"**{report[s]['reliable']['accuracy']:.1%}** of {report[s]['reliable']['stated']:,} "
                                  f"(chance {report[s]['reliable']['chance']:.1%})" for s in sets) + " |")
    if "diversity" in report:
        d = report["diversity"]
        lines.append(f"\ndiversity: {d['generated']:.2f} distinct large-part colour combinations among "
                     f"{d['images_per_caption']} images per caption (real renders of the same captions: {d['real']:.2f}; "
                     f"ratio {d['ratio']:.2f}), over {d['captions']} captions")
    if "random_caption_combinations" in report:
        d = report["random_caption_combinations"]
        lines.append(f"distinct large-part colour combinations among {d['captions']} images for {d['captions']} random "
                     f"captions: generated {d['generated']}, real renders {d['real']} (ratio {d['ratio']:.2f})")
    if "scene" in report:
        d = report["scene"]
        acc = d["classifier"]["accuracy"]
        lines += ["", f"unstated scene, one image for each of {d['captions']} captions (scene classifier on held-out "
                      f"real renders: " + ", ".join(f"{k} {a:.1%}" for k, a in acc.items()) + ")",
                  "| label | generated | real renders | TV distance | dropped (< half of real) |", "|---|---|---|---|---|"]
        for head, r in d["labels"].items():
            lines.append(f"| {head} | {_shares(r['generated'])} | {_shares(r['real'])} | {r['tv_distance']:.2f} | "
                         f"{', '.join(r['dropped']) or 'none'} |")
    return "\n".join(lines)


def _r_precision(r: dict, name: str, how: str, real: str) -> str:
    return (f"{name} (top-1 of {r['candidates']}, {how}, {r['num_images']:,} captions): generated "
            f"**{r['generated']:.1%}**, {real} (ceiling) {r['real']:.1%}, ratio {r['ratio']:.2f}, chance {r['chance']:.0%}")


def format_gan_report(report: dict) -> str:
    """The whole eval-gan report as markdown: attributes (when measured), then FID/KID, R-precision, diversity."""
    lines = [format_attribute_report(report)] if "classifier" in report else [f"evaluation of {report['model']}"]
    if "fid" in report:
        f = report["fid"]
        lines += ["", f"| image quality ({f['num_images']:,} images) | generated | real vs real (floor) | ratio |",
                  "|---|---|---|---|",
                  f"| FID (TF-Inception pool3) | {f['fid']:.2f} | {f['fid_floor']:.2f} | {f['fid_over_floor']:.1f}x |",
                  f"| KID x 1000 | {1000 * f['kid']:.2f} +- {1000 * f['kid_std']:.2f} | "
                  f"{1000 * f['kid_floor']:.2f} +- {1000 * f['kid_floor_std']:.2f} | |"]
    if "r_precision" in report:
        lines += ["", _r_precision(report["r_precision"], "R-precision", "separate bi-GRU evaluation encoder",
                                   "real images") + ". G was trained to please an encoder of the same kind, so this "
                  "rewards caption-typical colours: read the judge's figure below for faithfulness"]
    if "judge_r_precision" in report:
        lines += ["", _r_precision(report["judge_r_precision"], "Judge R-precision",
                                   "captions ranked by the attribute judge's log-likelihood of what each states",
                                   "real renders")]
    if "inception_diversity" in report:
        d = report["inception_diversity"]
        lines += ["", f"Inception diversity: mean pairwise feature distance among {d['images_per_caption']} images per "
                      f"caption: generated {d['generated']:.2f}, real renders {d['real']:.2f}, ratio {d['ratio']:.2f} "
                      f"(over {d['captions']} captions)"]
    return "\n".join(lines)
