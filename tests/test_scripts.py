"""The example scripts of scripts/, one per user job, run as a user runs them (a subprocess) on tiny models."""
import re
import subprocess
import sys

import pytest

from conftest import ROOT, TINY_SENTENCES, tiny_gan_run


def run_script(name, *args, cwd=ROOT):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)], capture_output=True,
                       text=True, cwd=cwd, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def gan_dir(tmp_path_factory):
    """A tiny text-to-image GAN trained for two steps on 12 rendered birds."""
    from textgen.core.config import load_config
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer

    tmp = tmp_path_factory.mktemp("scripts_gan")
    path, run = tiny_gan_run(tmp, "g", "train.steps=2")
    GANTrainer(load_config(GANRunConfig, path)).fit()
    return run / "last"


def test_interpolate_prints_a_path_between_the_endpoint_reconstructions(model_dir):
    from textgen.pipelines import SentenceVAEPipeline

    a, b = TINY_SENTENCES[0], TINY_SENTENCES[3]
    out = run_script("interpolate.py", a, b, "--model", model_dir, "--steps", 4).splitlines()
    assert out[:2] == [f"# A: {a}", f"# B: {b}"]
    path = [re.match(r"(\d\.\d\d) ([* ]) (.*)$", line).groups() for line in out[2:]]
    assert 2 <= len(path) <= 6 and [w for w, _, _ in path] == sorted(w for w, _, _ in path)
    assert path[0][:2] == ("0.00", "*") and path[-1][:2] == ("1.00", "*")
    pipe = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)
    assert [path[0][2], path[-1][2]] == pipe.reconstruct([a, b]).sentences


def test_generate_birds_writes_one_row_per_caption(gan_dir, tmp_path):
    from PIL import Image

    out = tmp_path / "birds.png"
    said = run_script("generate_birds.py", "a red bird with black wings", "a blue bird", "-n", 3,
                      "--model", gan_dir, "--out", out)
    picture = Image.open(out)
    assert picture.format == "PNG" and f"{picture.width}x{picture.height} px" in said
    # 3 birds of 32 px a row with 2 px gaps, two rows, each with a 14 px line of caption under it
    assert picture.size == (3 * (32 + 2) + 2, 2 * (32 + 2 * 2 + 14))
    lo, hi = picture.crop((2, 2, 34, 34)).convert("L").getextrema()          # the first bird, not a blank tile
    assert hi - lo > 20


def test_embed_sklearn_reports_cross_validated_accuracy(model_dir, tmp_path):
    data = tmp_path / "sentences.tsv"
    rows = [("talk" if i < 4 or i == 8 else "news", s) for i, s in enumerate(TINY_SENTENCES)]
    data.write_text("".join(f"{label}\t{s}\n" for label, s in rows * 2) + "\n", encoding="utf-8")
    out = run_script("embed_sklearn.py", data, "--model", model_dir, "--folds", 4)
    assert out.splitlines()[0] == "20 sentences, 2 labels, 4-fold cross-validation"
    acc, std, majority = map(float, re.search(r"accuracy (\S+) \(std (\S+)\), majority class (\S+)", out).groups())
    assert 0 <= acc <= 1 and 0 <= std <= 1 and majority == 0.5
