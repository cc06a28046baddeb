"""scripts/candidate.py: a long run in stages that accumulate through a committed fp16 candidate folder."""
from __future__ import annotations

import argparse
import json

import torch

from conftest import safetensors_weights, tiny_vae_run


def save_stage(tool, run, note):
    return tool.save(argparse.Namespace(run=str(run), name="tiny", config="configs/vae/tiny.yaml", checkpoint=None,
                                        threads=2, note=note))


def test_two_stages_accumulate_through_the_candidate(tmp_path, candidate_tool, monkeypatch, capsys):
    from textgen.core.config import load_config
    from textgen.vae.configuration import VAERunConfig
    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.trainer import VAETrainer

    monkeypatch.setattr(candidate_tool, "CANDIDATES", tmp_path / "candidates")
    valid = f"data.valid={tmp_path / 'valid.txt'}"
    (tmp_path / "valid.txt").write_text("the market fell on monday\nhe bought two new cars\n", encoding="utf-8")
    first, run1 = tiny_vae_run(tmp_path, "stage1", "train.max_steps=3", "train.epochs=1", valid)
    VAETrainer(load_config(VAERunConfig, first)).fit()
    assert save_stage(candidate_tool, run1, "first") == 0
    folder = tmp_path / "candidates" / "tiny"
    info = json.loads((folder / "candidate.json").read_text())
    assert [s["stage"] for s in info["stages"]] == [1] and info["stages"][0]["checkpoint"] == "best"
    assert info["stages"][0]["valid"]["nll_bound"] > 0 and info["stages"][0]["valid"]["step"] == 3
    assert "runtime.seed=2" in info["next"] and "runtime.seed=2" in capsys.readouterr().out
    weights = safetensors_weights(folder)
    assert all(w.dtype == torch.float16 for w in weights.values() if w.is_floating_point())
    trained = safetensors_weights(run1 / "best")
    assert all(torch.equal(weights[k], v.half()) for k, v in trained.items())

    # stage 2 starts from the candidate (all weights, its tokenizer) with another seed, and is appended
    second, run2 = tiny_vae_run(tmp_path, "stage2", "train.max_steps=3", "train.epochs=1", f"train.init_from={folder}",
                                "runtime.seed=2", valid)
    VAETrainer(load_config(VAERunConfig, second)).fit()
    assert save_stage(candidate_tool, run2, "second") == 0
    info = json.loads((folder / "candidate.json").read_text())
    assert [s["note"] for s in info["stages"]] == ["first", "second"] and info["steps_total"] == 6
    assert info["stages"][1]["init_from"] == str(folder) and info["stages"][1]["seed"] == 2
    assert SentenceVAE.from_pretrained(folder).tokenizer.get_vocab() == SentenceVAE.from_pretrained(run1 / "best").tokenizer.get_vocab()
    assert not any(p.name.startswith(".tiny") for p in (tmp_path / "candidates").iterdir())   # no temporary left
