"""The models shipped inside the package, by short name, and where a name or path points (no torch here, so
the command line can name them in its help without importing torch)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_CVAE", "DEFAULT_GAN", "DEFAULT_VAE", "PRETRAINED_MODELS", "resolve_model_path"]

# Short names of models shipped inside the package -> their folder under textgen/. Each is rebuilt from scratch
# by scripts/build_pretrained.py --model NAME:
# en-lstm-vae: general English (reviews, movie dialog, bird captions; cased byte-level BPE), the default;
#   configs/vae/en_ae_pretrain.yaml then configs/vae/en_lstm_li.yaml on prepare-corpus english.
# ptb-lstm-vae: configs/vae/ptb_lstm_interp.yaml on PTB train (lowercased news), the density benchmark.
# en-sentiment-cvae: configs/vae/en_sentiment_cvae.yaml, a conditional VAE (sentiment) started from en-lstm-vae.
# birds-gan: configs/gan/birds32_cpu.yaml trained on synthetic birds (a text-to-image GAN folder).
PRETRAINED_MODELS: dict[str, str] = {"en-lstm-vae": "pretrained/en-lstm-vae", "ptb-lstm-vae": "pretrained/ptb-lstm-vae",
                                     "en-sentiment-cvae": "pretrained/en-sentiment-cvae",
                                     "birds-gan": "pretrained/birds-gan"}
DEFAULT_VAE = "en-lstm-vae"     # what every sentence verb, SentenceEncoder, VAEFeatures and export-hf load by default
DEFAULT_CVAE = "en-sentiment-cvae"   # what transfer, and sample / interpolate with a label, load by default
DEFAULT_GAN = "birds-gan"      # what generate-images, eval-gan and TextToImagePipeline load by default


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A folder path, or the short name of a model shipped with textgen (see ``PRETRAINED_MODELS``)."""
    name = str(name_or_path)
    if name in PRETRAINED_MODELS:
        from importlib.resources import files

        path = Path(str(files("textgen").joinpath(PRETRAINED_MODELS[name])))
        if not (path / "config.json").is_file():
            raise _checkpoint_error()(f"the shipped model {name!r} is missing from this installation ({path}); "
                                      "reinstall textgen, or rebuild it with python scripts/build_pretrained.py")
        return path
    path = Path(name).expanduser()
    if not path.exists():
        known = ", ".join(sorted(PRETRAINED_MODELS)) or "none shipped yet"
        raise _checkpoint_error()(
            f"model {name!r} does not exist: it is neither a folder nor a shipped model name (shipped: {known}); "
            "pass the folder a training run wrote (e.g. runs/vae/best)"
        )
    return path


def _checkpoint_error() -> type:
    from textgen.core.checkpoint import CheckpointError    # here: textgen.core.checkpoint imports torch

    return CheckpointError
