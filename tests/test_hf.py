"""transformers integration: export, AutoModel/AutoTokenizer, pipelines, remote code without textgen."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import TINY_SENTENCES
from textgen import SentenceEncoder
from textgen.cli import main

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_dir(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "encoder"
    assert main(["export-hf", "--model", str(model_dir), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def reference(model_dir):
    return SentenceEncoder.from_pretrained(model_dir).encode(TINY_SENTENCES, progress_bar=False)


def test_export_writes_a_self_contained_folder(hf_dir):
    names = {p.name for p in hf_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "modeling_textgen.py", "textgen_encoders.py"} <= names
    cfg = json.loads((hf_dir / "config.json").read_text())
    assert cfg["model_type"] == "textgen-sentence-encoder" and cfg["textgen"]["latent_size"] == 8
    assert cfg["auto_map"]["AutoModel"] == "modeling_textgen.TextgenEncoderModel"


def test_auto_classes_give_the_sentence_encoder_embeddings(hf_dir, reference):
    import textgen.integrations.hf  # noqa: F401  (registers the classes)
    from transformers import AutoModel, AutoTokenizer
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    model = AutoModel.from_pretrained(hf_dir)
    tok = AutoTokenizer.from_pretrained(hf_dir)
    batch = tok(TINY_SENTENCES, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**batch)
    assert isinstance(out, BaseModelOutputWithPooling)
    assert out.last_hidden_state.shape[:2] == batch["input_ids"].shape
    assert np.allclose(out.pooler_output.numpy(), reference, atol=1e-5)


def test_pipelines(hf_dir, reference):
    import textgen.integrations.hf  # noqa: F401
    from transformers import pipeline

    feats = pipeline("feature-extraction", model=str(hf_dir))(TINY_SENTENCES[0])
    n_tokens = len(TINY_SENTENCES[0].split()) + 1                                    # + <eos>
    assert np.asarray(feats).shape == (1, n_tokens, 64)                               # per-token states
    embed = pipeline("sentence-embedding", model=str(hf_dir))
    one = embed(TINY_SENTENCES[0])
    assert np.allclose(one, reference[0], atol=1e-5)
    many = embed(TINY_SENTENCES[:3], normalize=True)
    assert np.allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)


def test_remote_code_loads_where_textgen_cannot_be_imported(hf_dir, reference):
    code = f"""
import sys
class NoTextgen:
    def find_spec(self, name, path=None, target=None):
        if name == "textgen" or name.startswith("textgen."):
            raise ImportError("textgen is blocked in this process")
sys.meta_path.insert(0, NoTextgen())
import json
from transformers import AutoModel, AutoTokenizer
model = AutoModel.from_pretrained({str(hf_dir)!r}, trust_remote_code=True)
tok = AutoTokenizer.from_pretrained({str(hf_dir)!r}, trust_remote_code=True)
out = model(**tok({TINY_SENTENCES[:3]!r}, return_tensors="pt", padding=True))
assert not any(m == "textgen" or m.startswith("textgen.") for m in sys.modules)
print(json.dumps(out.pooler_output.tolist()))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"HF_HUB_OFFLINE": "1", "PATH": "", "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    got = np.asarray(json.loads(r.stdout.strip().splitlines()[-1]))
    assert np.allclose(got, reference[:3], atol=1e-5)


def test_refusals(tmp_path, hf_dir, model_dir, capsys):
    import textgen.integrations.hf  # noqa: F401
    from transformers import AutoModel, AutoTokenizer, pipeline

    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.tokenization import Tokenizer

    lm_dir = tmp_path / "lm"
    tok = Tokenizer.train(TINY_SENTENCES, kind="word")
    SentenceVAE(SentenceVAEConfig(vocab_size=tok.vocab_size, mode="lm", embed_size=8, hidden_size=8)).save_pretrained(
        lm_dir, tokenizer=tok)
    assert main(["export-hf", "--model", str(lm_dir), "--out", str(tmp_path / "x")]) == 2
    assert "no encoder to export" in capsys.readouterr().err

    cfg = json.loads((hf_dir / "config.json").read_text())
    old = tmp_path / "old"
    old.mkdir()
    for f in hf_dir.iterdir():
        (old / f.name).write_bytes(f.read_bytes())
    cfg["textgen_export_format"] = 99
    (old / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="export format 99.*Re-export"):
        AutoModel.from_pretrained(old)

    other_tok = AutoTokenizer.from_pretrained(hf_dir)
    other_tok.add_tokens(["brandnewword"])
    with pytest.raises(ValueError, match="tokenizer has .* tokens but the model was trained with"):
        pipeline("sentence-embedding", model=AutoModel.from_pretrained(hf_dir), tokenizer=other_tok)
