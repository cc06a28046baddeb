"""Checkpoint folders: atomic writes, pickle-free training state, and clear errors for bad folders."""
import json
import re
import os

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
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt: its SHA-256"):
        read_model_folder(tmp_path / "m")                      # the checksum catches it first
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        read_model_folder(tmp_path / "m", verify=False)        # and safetensors without it

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


# ----------------------------------------------------------------------------- hostile folders

def _vae_folder(root, name="vae"):
    from textgen.tokenization import Tokenizer
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.vae.modeling import SentenceVAE

    tok = Tokenizer.train(["a b c d", "b c d e"], kind="word")
    cfg = SentenceVAEConfig(vocab_size=tok.vocab_size, embed_size=8, hidden_size=8, latent_size=4)
    folder = root / name
    SentenceVAE(cfg).save_pretrained(folder, tokenizer=tok)
    return folder


def _edit_config(folder, **changes):
    meta = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if key.startswith("config."):
            meta["config"][key[7:]] = value
        else:
            meta[key] = value
    (folder / "config.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("change,message", [
    ({"config.hidden_size": 16}, r"tensor '.*' has shape \(.*\), but the config builds \(.*\); the weights and config.json"),
    ({"format_version": None}, r'"format_version" must be an integer, got null'),
    ({"config": None}, r"does not describe a valid SentenceVAE|no setting|config"),
    ({"config": [1]}, r'"config" must be a mapping of settings, got \[1\]'),
])
def test_a_model_folder_whose_config_does_not_fit_gives_one_line(tmp_path, change, message, capsys):
    from textgen.cli import main

    folder = _vae_folder(tmp_path)
    _edit_config(folder, **change)
    assert main(["encode", "a b", "--model", str(folder), "--out", str(tmp_path / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err and err.count("\n") == 1, err


def test_flipped_bytes_are_caught_by_the_checksum_unless_told_not_to(tmp_path, capsys):
    from textgen.cli import main
    from textgen.vae.modeling import SentenceVAE

    folder = _vae_folder(tmp_path)
    w = folder / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-5] ^= 0x40                                           # one bit inside the tensor data
    w.write_bytes(bytes(data))
    assert main(["encode", "a b", "--model", str(folder), "--out", str(tmp_path / "z.npy")]) == 2
    assert "model.safetensors is corrupt: its SHA-256" in capsys.readouterr().err
    assert main(["--no-verify", "encode", "a b", "--model", str(folder), "--out", str(tmp_path / "z.npy")]) == 0
    assert "TEXTGEN_NO_VERIFY" not in os.environ                # only for that one command line
    with pytest.raises(CheckpointError, match="corrupt"):
        SentenceVAE.from_pretrained(folder)


def test_pickles_are_never_read_and_a_state_naming_a_missing_tensor_is_named(tmp_path):
    from textgen.vae.modeling import SentenceVAE

    folder = _vae_folder(tmp_path)
    marker = tmp_path / "unpickled"

    class Boom:                                                 # would create the marker if ever unpickled
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import pickle
    for name in ("pytorch_model.bin", "model.pt", "training_args.bin"):
        (folder / name).write_bytes(pickle.dumps(Boom()))
    SentenceVAE.from_pretrained(folder)
    assert not marker.exists()

    save_tree({"optimizer": {"exp_avg": torch.zeros(3)}, "step": 4}, tmp_path / "state")
    structure = json.loads((tmp_path / "state" / "state.json").read_text())
    structure["__dict__"]["optimizer"]["__dict__"]["exp_avg"] = {"__tensor__": "/optimizer/state/0/exp_avg"}
    (tmp_path / "state" / "state.json").write_text(json.dumps(structure))
    with pytest.raises(CheckpointError, match=r"state.json names a tensor '/optimizer/state/0/exp_avg' that "
                                              r"state.safetensors does not hold"):
        load_tree(tmp_path / "state")


def test_unreadable_files_and_symlink_loops_get_a_message(tmp_path):
    from textgen.vae.modeling import SentenceVAE

    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(CheckpointError):
        SentenceVAE.from_pretrained(loop)
    folder = _vae_folder(tmp_path)
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(folder / "config.json")
    with pytest.raises(CheckpointError):
        SentenceVAE.from_pretrained(folder)
    if os.geteuid() != 0:                                       # root reads everything
        other = _vae_folder(tmp_path, "locked")
        (other / "config.json").chmod(0)
        with pytest.raises(CheckpointError, match="cannot read"):
            SentenceVAE.from_pretrained(other)


def test_a_folder_replaced_while_it_is_read_is_read_again_consistently(tmp_path, monkeypatch):
    """A run swaps best/ between reading config.json and the weights: the reader must not mix two saves."""
    import textgen.core.checkpoint as ck

    folder = tmp_path / "best"
    old, new = _model(), torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    write_model_folder(folder, model_type="toy", config={"save": 1}, state_dict=old.state_dict())
    real_sha = ck.file_digest
    swaps = {"n": 0, "saving": False}

    def sha_during_a_save(path):
        digest = real_sha(path)                       # the hash of the weights this reader opened ...
        if swaps["saving"] or swaps["n"] >= swaps.get("limit", 1):
            return digest
        swaps["n"] += 1                               # ... then the run replaces the folder with its next save
        swaps["saving"] = True
        write_model_folder(folder, model_type="toy", config={"save": 2 + swaps["n"]}, state_dict=new.state_dict())
        swaps["saving"] = False
        return "0" * 64                               # what the reader's bytes hash to no longer matches

    monkeypatch.setattr(ck, "file_digest", sha_during_a_save)
    cfg, state, _ = read_model_folder(folder, model_type="toy")
    assert cfg == {"save": 3} and all(torch.equal(state[k], v) for k, v in new.state_dict().items())
    swaps.update(n=0, limit=10)                       # a folder that never stops changing
    with pytest.raises(CheckpointError, match="is being written.*retry"):
        read_model_folder(folder, model_type="toy")
    swaps.update(n=0, limit=0)
    (folder / "model.safetensors").write_bytes(b"x" * 64)   # real corruption, the folder unchanged: no retry
    with pytest.raises(CheckpointError, match="corrupt"):
        read_model_folder(folder, model_type="toy")


def test_hostile_model_folders_are_refused_before_any_allocation(model_dir, tmp_path, capsys):
    """config.json asking for huge sizes, NaN weights and a removed checksum: one-line errors, nothing allocated."""
    import shutil

    from textgen.cli import main

    def copy_with(name, edit=None, weights=None):
        folder = tmp_path / name
        shutil.copytree(model_dir, folder)
        meta = json.loads((folder / "config.json").read_text())
        if edit:
            edit(meta)
        (folder / "config.json").write_text(json.dumps(meta))
        if weights:
            from safetensors.torch import load_file, save_file

            state = load_file(str(folder / "model.safetensors"))
            weights(state)
            save_file(state, str(folder / "model.safetensors"))
        return folder

    huge = copy_with("huge", lambda m: m["config"].update(hidden_size=8000))
    assert main(["--no-verify", "reconstruct", "--model", str(huge), "the cat sat"]) == 2
    assert "describes a model of about" in capsys.readouterr().err
    nan = copy_with("nan", weights=lambda st: next(v for v in st.values() if v.is_floating_point()).fill_(float("nan")))
    assert main(["--no-verify", "encode", "--model", str(nan), "the cat sat", "--out", str(tmp_path / "z.npy")]) == 2
    assert not (tmp_path / "z.npy").exists()
    assert "NaN or infinite" in capsys.readouterr().err
    unchecked = copy_with("unchecked", lambda m: m.pop("sha256"))
    assert main(["reconstruct", "--model", str(unchecked), "the cat sat"]) == 2
    err = capsys.readouterr().err
    assert "records no SHA-256" in err and "--no-verify" in err and len(err.strip().splitlines()) == 1
    assert main(["--no-verify", "reconstruct", "--model", str(unchecked), "the cat sat"]) == 0
    deep = copy_with("deep")
    (deep / "config.json").write_text('{"format": ' + "[" * 100000 + "]" * 100000 + "}")
    capsys.readouterr()
    assert main(["reconstruct", "--model", str(deep), "the cat sat"]) == 2
    assert "nests too deeply" in capsys.readouterr().err


def test_ctrl_c_while_textgen_is_still_importing_is_one_line(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "textgen", "reconstruct", "The market fell on Monday."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)                                   # inside `import torch` (or just after it)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted")


def test_training_state_round_trips_and_reads_the_flat_layout_of_older_runs(tmp_path):
    from textgen.core.trainer import LogWindow, TrainingState

    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    window = LogWindow()
    window.add({"loss": torch.tensor(2.0)})
    state = TrainingState.capture(7, {"D": net, "opt": opt, "absent": None}, data={"epoch": 1}, window=window,
                                  extra={"best_valid": 3.5})
    state.save(tmp_path / "new")
    back = TrainingState.load(tmp_path / "new")
    assert (back.step, back.data, back.extra, set(back.parts)) == (7, {"epoch": 1}, {"best_valid": 3.5}, {"D", "opt"})
    fresh, fresh_opt, fresh_window = torch.nn.Linear(3, 2), torch.optim.Adam(net.parameters(), lr=0.1), LogWindow()
    back.restore({"D": fresh, "opt": fresh_opt}, where=tmp_path / "new", window=fresh_window)
    assert torch.equal(fresh.weight, net.weight) and fresh_window.steps == 1
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    with pytest.raises(CheckpointError, match="has no 'E'"):
        back.restore({"E": torch.nn.Linear(3, 2)}, where=tmp_path / "new")
    # a run saved before the typed state kept every entry at the top level
    save_tree({"optimizer": opt.state_dict(), "rng": back.rng, "step": 5, "epoch": 2, "batch_in_epoch": 9,
               "best_valid": 1.0, "epochs_since_best": 0, "window": {}}, tmp_path / "old")
    old = TrainingState.load(tmp_path / "old")
    assert old.step == 5 and old.data == {"epoch": 2, "batch_in_epoch": 9} and set(old.parts) == {"optimizer"}
    assert old.extra == {"best_valid": 1.0, "epochs_since_best": 0}
