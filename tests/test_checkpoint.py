"""Checkpoint folders: atomic writes, pickle-free training state, and clear errors for bad folders."""
import json

import pytest
import torch

from textgen.core.checkpoint import (
    CheckpointError,
    atomic_folder,
    load_tree,
    read_model_folder,
    save_tree,
    write_model_folder,
)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))


def test_model_folder_round_trip_and_fp16(tmp_path):
    m = _model()
    write_model_folder(tmp_path / "m", model_type="toy", config={"a": 1}, state_dict=m.state_dict())
    cfg, state, tok = read_model_folder(tmp_path / "m", model_type="toy")
    assert cfg == {"a": 1} and tok is None
    assert all(torch.equal(state[k], v) for k, v in m.state_dict().items())
    write_model_folder(tmp_path / "h", model_type="toy", config={}, state_dict=m.state_dict(), dtype=torch.float16)
    _, half, _ = read_model_folder(tmp_path / "h")
    assert half["0.weight"].dtype == torch.float16


def test_tied_weights_are_saved(tmp_path):
    emb = torch.nn.Embedding(5, 3)
    out = torch.nn.Linear(3, 5, bias=False)
    out.weight = emb.weight
    sd = {"emb.weight": emb.weight, "out.weight": out.weight}
    write_model_folder(tmp_path / "t", model_type="toy", config={}, state_dict=sd)
    _, state, _ = read_model_folder(tmp_path / "t")
    assert torch.equal(state["emb.weight"], state["out.weight"])


def test_bad_folders_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_model_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a textgen model folder: it has no config.json"):
        read_model_folder(tmp_path / "empty")
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="looks like a run folder"):
        read_model_folder(run)

    m = _model()
    write_model_folder(tmp_path / "m", model_type="toy", config={}, state_dict=m.state_dict())
    with pytest.raises(CheckpointError, match="holds a 'toy' model, not a 'sentence-vae'"):
        read_model_folder(tmp_path / "m", model_type="sentence-vae")

    w = tmp_path / "m" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:50])  # truncated download
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        read_model_folder(tmp_path / "m")

    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="not a textgen model folder"):
        read_model_folder(tmp_path / "hf")

    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "config.json").write_text(json.dumps({"format": "textgen-model", "format_version": 99}))
    with pytest.raises(CheckpointError, match="newer textgen"):
        read_model_folder(tmp_path / "new")


def test_atomic_folder_keeps_old_checkpoint_on_failure(tmp_path):
    target = tmp_path / "ckpt"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("killed mid-save")
    assert (target / "a.txt").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"], "temporary folders were left behind"


def test_training_state_round_trip_without_pickle(tmp_path):
    m = _model()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.8, 0.9))
    m(torch.randn(3, 4)).sum().backward()
    opt.step()
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    tree = {"optimizer": opt.state_dict(), "scaler": scaler.state_dict(), "step": 7, "best": float("inf"),
            "rng": torch.get_rng_state(), "history": [1.0, 2.0]}
    save_tree(tree, tmp_path / "state")
    assert not (tmp_path / "state").joinpath("state.pkl").exists()
    back = load_tree(tmp_path / "state")
    assert back["step"] == 7 and back["best"] == float("inf") and back["history"] == [1.0, 2.0]
    assert torch.equal(back["rng"], tree["rng"])
    opt2 = torch.optim.AdamW(_model().parameters(), lr=1.0)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9) and opt2.param_groups[0]["lr"] == 1e-3
    for k, s in opt.state_dict()["state"].items():
        assert torch.equal(opt2.state_dict()["state"][k]["exp_avg"], s["exp_avg"])
    with pytest.raises(TypeError, match="only tensors and primitives"):
        save_tree({"bad": object()}, tmp_path / "bad")
    with pytest.raises(CheckpointError, match="not a textgen training state"):
        load_tree(tmp_path)


def test_shared_weights_are_stored_once_and_restored(tmp_path):
    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.configuration import SentenceVAEConfig

    m = SentenceVAE(SentenceVAEConfig(vocab_size=500, embed_size=16, hidden_size=16, latent_size=4, tie_embeddings=True))
    sd = m.state_dict()
    assert sd["embedding.weight"].data_ptr() == sd["decoder.head.proj.weight"].data_ptr()  # one table, 4 names
    write_model_folder(tmp_path / "m", model_type="sentence-vae", config={}, state_dict=sd, dtype=torch.float16)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m" / "model.safetensors"), framework="pt") as f:
        stored = list(f.keys())
    assert sum(k.endswith("embedding.weight") or k == "decoder.head.proj.weight" for k in stored) == 1
    _, state, _ = read_model_folder(tmp_path / "m")
    assert set(state) == set(sd)
    for k in ("embedding.weight", "encoder.embedding.weight", "decoder.embedding.weight", "decoder.head.proj.weight"):
        assert torch.equal(state[k], sd[k].half())
