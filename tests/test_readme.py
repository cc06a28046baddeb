"""The README's "Use in your pipeline" snippets, run as written, against the shipped default model."""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _section_snippets(title: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end != -1 else None], flags=re.DOTALL)


SHIPPED = ROOT / "textgen" / "pretrained" / "en-lstm-vae" / "config.json"


def test_use_in_your_pipeline_snippets_run(tmp_path, monkeypatch):
    assert SHIPPED.is_file(), "the shipped en-lstm-vae is missing: rebuild it with scripts/build_pretrained.py"
    pytest.importorskip("sklearn")
    snippets = _section_snippets("Use in your pipeline")
    assert len(snippets) == 4
    monkeypatch.chdir(tmp_path)          # the export writes hf-en-encoder/ into the working directory
    scope: dict = {}
    for code in snippets:
        exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation
    assert scope["X"].shape == (2, 64) and scope["kept"].tolist() == [0, 2]         # the last X is the skip one
    assert scope["ok"].tolist() == [True, False, True]
    assert len(scope["ds"][0]["embedding"]) == 64
    assert len(scope["vector"]) == 64 and tuple(scope["pooled"].shape) == (1, 64)
    import numpy as np

    raw = scope["enc"].encode(["I don't want 5 apples."])[0]
    assert np.allclose(scope["vector"], raw, atol=1e-5) and np.allclose(scope["pooled"][0].detach(), raw, atol=1e-5)
    assert os.path.isdir(tmp_path / "hf-en-encoder")
