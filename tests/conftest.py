"""Shared test set-up: offline, CPU-only, no progress bars, GPU tests skipped without CUDA."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TEXTGEN_PROGRESS", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs one worker per core: one torch thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CUB_CAPTIONS = SHARED_DATA / "cub_captions_train.jsonl.gz"


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is available here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_warnings():
    """textgen warns once per call site of the user's code; each test starts with none said yet."""
    from textgen.core.logs import reset_warned

    reset_warned()


@pytest.fixture
def said(caplog):
    """caplog recording the ``textgen`` logger's warnings (said once per call site of the test's code)."""
    import logging

    caplog.set_level(logging.WARNING, logger="textgen")
    return caplog


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def _tool(root, name):
    """A file of scripts/ as a module (the scripts are not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, root / "scripts" / f"{name}.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope="session")
def build_tool(root):
    """scripts/build_pretrained.py as a module."""
    return _tool(root, "build_pretrained")


@pytest.fixture(scope="session")
def cub_captions_path() -> Path:
    if not CUB_CAPTIONS.is_file():
        pytest.skip(f"real CUB captions not found at {CUB_CAPTIONS} (they live in ../shared/data beside the repo)")
    return CUB_CAPTIONS


# ----------------------------------------------------------------------------- a tiny trained sentence VAE

TINY_SENTENCES = [
    "i want to talk to you", "i want to be with you", "i do n't want to be with you",
    "she did n't want to be with him", "the market fell on monday", "prices rose N % in october",
    "he bought two new cars", "the company sold its unit", "we like to read books", "mr. smith said it was fine",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A tiny LSTM-VAE trained for a few seconds until it reconstructs its training sentences."""
    import torch

    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.tokenization import Tokenizer
    from textgen.vae.objective import vae_loss

    torch.manual_seed(0)
    tok = Tokenizer.train(TINY_SENTENCES, kind="word", max_length=12)
    model = SentenceVAE(SentenceVAEConfig(vocab_size=tok.vocab_size, embed_size=32, hidden_size=64, latent_size=8,
                                          z_concat_input=True))
    batch = tok.encode_batch(TINY_SENTENCES)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(150):
        out = model(batch.input_ids, batch.lengths)
        loss = vae_loss(out, beta=min(1.0, step / 100), free_bits=1.0).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    folder = tmp_path_factory.mktemp("pipe") / "tiny-vae"
    model.save_pretrained(folder, tokenizer=tok)
    return folder




# ----------------------------------------------------------------------------- tiny training runs as YAML files

def tiny_vae_run(tmp_path, name, *overrides):
    """A tiny VAE run on TINY_SENTENCES x 4 (5 batches of 8 an epoch), saved as ``<name>.yaml``: (yaml, run folder)."""
    from textgen.core.config import load_config, save_config
    from textgen.vae.configuration import VAERunConfig

    train = tmp_path / "train.txt"
    if not train.exists():
        train.write_text("\n".join(TINY_SENTENCES * 4) + "\n", encoding="utf-8")
    cfg = load_config(VAERunConfig, None, [
        f"data.train={train}", "data.test=null", "data.batch_size=8", "model.embed_size=16", "model.hidden_size=32",
        "model.latent_size=8", "train.log_every=2", "runtime.device=cpu", "runtime.progress=false",
        f"out_dir={tmp_path / name}", *overrides])
    path = tmp_path / f"{name}.yaml"
    save_config(cfg, path)
    return path, tmp_path / name


def safetensors_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def tiny_gan_run(tmp_path, name, *overrides):
    """A tiny GAN run on 12 rendered birds (made once per tmp_path), saved as ``<name>.yaml``: (yaml, run folder)."""
    from textgen.birds.dataset import make_birds_dataset
    from textgen.core.config import load_config, save_config
    from textgen.gan.configuration import GANRunConfig

    birds = tmp_path / "birds"
    if not birds.exists():
        make_birds_dataset(birds, n=12, size=32, show_progress=False)
    cfg = load_config(GANRunConfig, None, [
        f"data.path={birds}", "data.batch_size=4", "model.image_size=32", "model.noise_dim=8", "model.cond_dim=8",
        "model.g_channels=4", "model.d_channels=4", "text_encoder.dim=16", "text_encoder.vocab_min_freq=1",
        "text_encoder.pretrain_steps=3", "train.log_every=2", "train.samples_per_caption=2", "runtime.device=cpu",
        "runtime.progress=false", f"out_dir={tmp_path / name}", *overrides])
    path = tmp_path / f"{name}.yaml"
    save_config(cfg, path)
    return path, tmp_path / name


@pytest.fixture(scope="session")
def candidate_tool(root):
    """scripts/candidate.py as a module."""
    return _tool(root, "candidate")
