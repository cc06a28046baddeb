"""Shared test set-up: offline, CPU-only, no progress bars, GPU tests skipped without CUDA."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TEXTGEN_PROGRESS", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cub_captions_path() -> Path:
    if not CUB_CAPTIONS.is_file():
        pytest.skip(f"real CUB captions not found at {CUB_CAPTIONS} (they live in ../shared/data beside the repo)")
    return CUB_CAPTIONS
