"""SentenceVAEPipeline and the interpolate/sample/reconstruct/encode commands, on a tiny trained model."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from textgen.cli import main
from textgen.core.config import ConfigError
from textgen.pipelines import SentenceVAEPipeline
from textgen.vae.configuration import LABEL_GUIDANCE, ConditionConfig
from textgen.tokenization.textprep import check_is_text, prepare_text
from textgen.tokenization import Tokenizer

from conftest import TINY_SENTENCES, tiny_vae_run

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = TINY_SENTENCES


@pytest.fixture(scope="session")
def pipe(model_dir):
    return SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False)


# ----------------------------------------------------------------------------- text preparation

def test_prepare_text_follows_the_vocabulary():
    tok = Tokenizer.from_vocab(["i", "do", "n't", "want", "N", "cats", "mr.", "ca", "it", "'s"])
    p = prepare_text("I don't want 2 cats. Mr. said: it's 3.5", tok)
    assert p.text == "i do n't want N cats mr. said it 's N"
    assert p.removed == [".", ":"] and p.unknown == ["said"]
    assert prepare_text("CAN'T", tok).text == "ca n't"


def test_non_text_is_refused():
    for bad, msg in ((b"abc", "bytes"), ("ab\x00c", "non-text"), ("caf\udcc3", "non-text"), (3, "string")):
        with pytest.raises(ValueError, match=msg):
            check_is_text(bad)


# ----------------------------------------------------------------------------- pipeline verbs

def test_encode_returns_means_and_optional_logvars(pipe):
    out = pipe.encode(SENTENCES[:3])
    assert out.mu.shape == (3, 8) and out.logvar is None and out.texts == SENTENCES[:3]
    with_lv = pipe.encode(SENTENCES[:3], batch_size=2, return_logvar=True)
    assert with_lv.logvar.shape == (3, 8)
    assert torch.allclose(with_lv.mu, out.mu, atol=1e-6)                           # batching changes nothing


def test_reconstruct_recovers_training_sentences(pipe):
    out = pipe.reconstruct(SENTENCES)
    assert sum(r == s for r, s in zip(out.sentences, SENTENCES)) >= 8, out.sentences
    beam = pipe.reconstruct(SENTENCES[:2], strategy="beam", beam_size=3)
    assert len(beam.sentences) == 2
    assert out.sentences == pipe.reconstruct(SENTENCES, strategy="beam", beam_size=4).sentences


def test_decoding_defaults_beam_4_for_own_codes_and_greedy_for_the_prior(pipe, monkeypatch):
    calls = []
    generate = pipe.model.generate
    monkeypatch.setattr(pipe.model, "generate", lambda z, **kw: calls.append(kw) or generate(z, **kw))
    pipe.reconstruct(SENTENCES[:2])
    pipe.interpolate(SENTENCES[0], SENTENCES[1], steps=2)
    pipe.analogy(*SENTENCES[:3])
    assert [(c["strategy"], c["beam_size"]) for c in calls] == [("beam", 4)] * 3
    pipe.sample(2)
    pipe.reconstruct(SENTENCES[:2], strategy="greedy")
    assert [c["strategy"] for c in calls[3:]] == ["greedy", "greedy"]


def test_sample_is_reproducible_with_a_generator(pipe):
    a = pipe.sample(4, generator=torch.Generator().manual_seed(3))
    b = pipe.sample(4, generator=torch.Generator().manual_seed(3))
    assert a.sentences == b.sentences and torch.equal(a.latents, b.latents) and a.latents.shape == (4, 8)
    hot = pipe.sample(4, strategy="sample", top_p=0.9, generator=torch.Generator().manual_seed(3))
    assert len(hot.sentences) == 4
    with pytest.raises(ValueError, match="n must be a positive integer"):
        pipe.sample(0)


@pytest.mark.parametrize("method", ["slerp", "linear"])
def test_interpolate_starts_and_ends_at_the_endpoint_reconstructions(pipe, method):
    a, b = SENTENCES[0], SENTENCES[3]
    out = pipe.interpolate(a, b, steps=6, method=method, dedupe=False)
    enc = pipe.encode([a, b])
    assert len(out.sentences) == 8 and out.weights[0] == 0.0 and out.weights[-1] == 1.0
    assert torch.equal(out.latents[0], enc.mu[0]) and torch.equal(out.latents[-1], enc.mu[1])
    assert out.sentences[0] == pipe.reconstruct([a]).sentences[0]
    assert out.sentences[-1] == pipe.reconstruct([b]).sentences[0]
    assert out.is_endpoint == [True] + [False] * 6 + [True]
    deduped = pipe.interpolate(a, b, steps=6, method=method)
    assert deduped.sentences[0] == out.sentences[0] and deduped.sentences[-1] == out.sentences[-1]
    assert all(x != y for x, y in zip(deduped.sentences, deduped.sentences[1:]))
    assert deduped.weights == sorted(deduped.weights) and deduped.is_endpoint[0] and deduped.is_endpoint[-1]


def test_interpolating_a_sentence_with_itself_keeps_both_endpoints(pipe):
    out = pipe.interpolate(SENTENCES[0], SENTENCES[0], steps=3)
    assert out.weights == [0.0, 1.0] and out.is_endpoint == [True, True]


def test_analogy_decodes_the_latent_arithmetic(pipe):
    out = pipe.analogy(SENTENCES[0], SENTENCES[1], SENTENCES[2])
    enc = pipe.encode(SENTENCES[:3])
    assert torch.allclose(out.latent, enc.mu[2] + enc.mu[1] - enc.mu[0])
    assert out.sentence == pipe.decode(out.latent[None])[0]


def test_input_is_normalised_and_unknown_words_reported(pipe, said):
    out = pipe.encode(["I don't want zebras."])
    assert "outside the model's vocabulary are read as <unk>: zebras" in said.text
    assert out.texts == ["i do n't want zebras"] and out.unknown_words == ["zebras"]


def test_bad_input_raises_value_errors_that_say_what_to_do(pipe):
    cases = [
        ([""], "empty"), (["   "], "empty"), (["..."], "empty after normalisation"),
        (["zzz qqq"], "only words outside the model's vocabulary"),
        ([b"bytes"], "bytes, not text"), (["a\x00b"], "non-text"), ("", "sentence 0 is empty"),
    ]
    for sentences, msg in cases:
        with pytest.raises(ValueError, match=msg):
            pipe.encode(sentences)
    for steps in (0, -2):
        with pytest.raises(ValueError, match="steps must be a positive integer"):
            pipe.interpolate(SENTENCES[0], SENTENCES[1], steps=steps)


def test_overlong_sentences_are_truncated_with_a_warning(pipe, said):
    long = " ".join(SENTENCES[:3])  # 18 words > max_length 12
    out = pipe.encode([long])
    assert out.num_truncated == 1 and "1 sentence(s) longer than the model's maximum of 12 tokens" in said.text


def test_lm_folders_and_missing_tokenizers_are_refused(tmp_path, model_dir):
    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.configuration import SentenceVAEConfig

    with pytest.raises(ValueError, match="no latent space"):
        SentenceVAEPipeline(SentenceVAE(SentenceVAEConfig(vocab_size=20, mode="lm", embed_size=8, hidden_size=8)),
                            tokenizer=Tokenizer.from_vocab([f"w{i}" for i in range(16)]))
    with pytest.raises(ValueError, match="no tokenizer"):
        SentenceVAEPipeline(SentenceVAE(SentenceVAEConfig(vocab_size=20, embed_size=8, hidden_size=8)))


# ----------------------------------------------------------------------------- CLI

def test_cli_interpolate_text_and_json(model_dir, capsys):
    assert main(["interpolate", SENTENCES[0], SENTENCES[3], "--model", str(model_dir), "--steps", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    path = [ln for ln in lines if not ln.startswith("#")]
    assert path[0].startswith("0.00 * ") and path[-1].startswith("1.00 * ")
    assert main(["interpolate", SENTENCES[0], SENTENCES[3], "--model", str(model_dir), "--json",
                 "--method", "linear", "--no-dedupe", "--steps", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["weight"] for p in data["path"]] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert [p["endpoint"] for p in data["path"]] == [True, False, False, True]


@pytest.mark.parametrize("args,message", [
    (["", "i want to talk to you"], "empty"),
    (["zzz qqq", "i want to talk to you"], "only words outside"),
    (["i want\x01 it", "i want to talk to you"], "non-text"),
    (["i want", "you", "--steps", "0"], "--steps must be a positive integer"),
    (["i want", "you", "--steps", "-3"], "--steps must be a positive integer"),
    (["i want", "you", "--steps", "100000"], "too many points for one path (at most 1000)"),
])
def test_cli_bad_input_exits_2_with_a_message(model_dir, capsys, args, message):
    assert main(["interpolate", *args, "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_cli_bad_model_paths(tmp_path, capsys):
    assert main(["interpolate", "a", "b", "--model", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "notes.txt").write_text("hi")
    assert main(["interpolate", "a", "b", "--model", str(tmp_path / "notamodel")]) == 2
    assert "not a textgen model" in capsys.readouterr().err


def test_cli_overlong_sentence_is_truncated_and_said(model_dir, capsys):
    long = " ".join(SENTENCES[:3])
    assert main(["reconstruct", long, "--model", str(model_dir)]) == 0
    assert "truncated" in capsys.readouterr().err


def test_a_huge_input_is_quoted_by_its_first_60_characters_only(model_dir, capsys):
    huge = " ".join(SENTENCES * 3000)                                     # about 100,000 characters
    assert main(["interpolate", huge, SENTENCES[1], "--model", str(model_dir), "--steps", "2"]) == 0
    captured = capsys.readouterr()
    assert f"truncated to it, the first: {huge[:60]!r}... ({len(huge):,} characters)" in captured.err
    assert max(len(line) for line in captured.out.splitlines() + captured.err.splitlines()) < 400
    unknown = "zzqx" * 30000
    assert main(["reconstruct", unknown, "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert "only words outside" in err and len(err) < 600


def test_cli_sample_reconstruct_and_encode(model_dir, tmp_path, capsys):
    assert main(["sample", "-n", "3", "--model", str(model_dir), "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert main(["reconstruct", SENTENCES[4], "--model", str(model_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == SENTENCES[4]            # one JSON object per line
    src = tmp_path / "in.txt"
    src.write_text("\n".join(SENTENCES[:4]) + "\n", encoding="utf-8")
    assert main(["encode", "--file", str(src), "--model", str(model_dir), "--out", str(tmp_path / "z.npy"), "--logvar"]) == 0
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (4, 2, 8)
    ref = SentenceVAEPipeline.from_pretrained(model_dir, show_progress=False).encode(SENTENCES[:4], return_logvar=True)
    assert np.allclose(z[:, 0], ref.mu.numpy(), atol=1e-5) and np.allclose(z[:, 1], ref.logvar.numpy(), atol=1e-5)
    assert main(["encode", SENTENCES[0], "--model", str(model_dir), "--out", str(tmp_path / "z.jsonl")]) == 0
    row = json.loads((tmp_path / "z.jsonl").read_text().splitlines()[0])
    assert row["text"] == SENTENCES[0] and len(row["mu"]) == 8
    capsys.readouterr()
    assert main(["encode", "x", "--model", str(model_dir), "--out", str(tmp_path / "z.txt")]) == 2
    assert ".npy or .jsonl" in capsys.readouterr().err


def test_cli_encode_on_error_policies_report_the_lines(model_dir, tmp_path, capsys):
    lines = [SENTENCES[0], "", SENTENCES[1], "zzz qqq", "...", SENTENCES[2] + "\udcff", SENTENCES[3]]
    src = tmp_path / "mixed.txt"
    src.write_bytes("\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r")    # CRLF, a lone CR, a bad byte
    args = ["encode", "--file", str(src), "--model", str(model_dir)]
    assert main([*args, "--out", str(tmp_path / "r.npy")]) == 2
    err = capsys.readouterr().err
    assert "mixed.txt: line 2 is empty" in err and "--on-error skip" in err and not (tmp_path / "r.npy").exists()
    assert main([*args, "--out", str(tmp_path / "n.npy"), "--on-error", "null"]) == 0
    err = capsys.readouterr().err
    assert "3 of 7 lines could not be encoded (2 empty, 1 no known word)" in err and "line 2, 4, 5" in err
    assert "1 line(s) held bytes that are not UTF-8" in err
    z = np.load(tmp_path / "n.npy")
    assert z.shape == (7, 8) and np.isnan(z).any(1).tolist() == [False, True, False, True, True, False, False]
    assert main([*args, "--out", str(tmp_path / "s.npy"), "--on-error", "skip", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 4 and [p["line"] for p in report["problems"]] == [2, 4, 5]
    assert (tmp_path / "s.npy.lines.txt").read_text().split() == ["1", "3", "6", "7"]
    assert np.allclose(np.load(tmp_path / "s.npy"), z[[0, 2, 5, 6]], atol=1e-6)
    assert main([*args, "--out", str(tmp_path / "s.jsonl"), "--on-error", "skip"]) == 0
    rows = [json.loads(r) for r in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 3, 6, 7] and rows[1]["text"] == SENTENCES[1]
    assert not list(tmp_path.glob(".*.part")) and not list(tmp_path.glob(".*.tmp"))


def test_python_m_textgen_interpolate_imports_nothing_heavy(model_dir):
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['textgen', 'interpolate', {SENTENCES[0]!r}, {SENTENCES[1]!r}, '--model', {str(model_dir)!r}]\n"
        "try:\n"
        "    runpy.run_module('textgen', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print(sorted(m for m in ('transformers', 'datasets', 'matplotlib', 'tokenizers', 'sentencepiece') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()
    assert out[-1] == "[]", f"the interpolate path imported heavy libraries: {out[-1]}"
    assert any(line.startswith("0.00 * ") for line in out)


def test_plot_latent_map_beside_a_second_model_and_path(model_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    data = tmp_path / "corpus.jsonl"
    data.write_text("\n".join(json.dumps({"text": s, "topic": i % 2}) for i, s in enumerate(SENTENCES)) + "\n")
    out = tmp_path / "maps" / "latent.png"
    assert main(["plot-latent", "--model", str(model_dir), "--compare", str(model_dir), "--data", str(data),
                 "--out", str(out), "--path", SENTENCES[0], SENTENCES[3], "--steps", "3", "--color", "topic"]) == 0
    from PIL import Image

    for png in (out, tmp_path / "maps" / "latent_path.png"):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] > 500
    assert main(["plot-latent", "--model", str(model_dir), "--data", str(data), "--color", "nope",
                 "--out", str(out)]) == 2
    assert "not a column" in capsys.readouterr().err
    # rows with bytes a source lost (U+FFFD) are skipped with a count, not the end of the map
    lost = [{"text": s, "topic": 0} for s in SENTENCES] + [{"text": "caf\ufffd\ufffd au lait", "topic": 1}]
    data.write_text("\n".join(json.dumps(r) for r in lost) + "\n")
    assert main(["plot-latent", "--model", str(model_dir), "--data", str(data), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"skipped 1 of {len(lost)} rows" in err and "non-text" in err


def test_pca_projects_onto_the_directions_of_largest_variance():
    from textgen.vae.plots import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1])
    pca = PCA.fit(x)
    assert np.allclose(np.abs(pca.components[0]), [1, 0, 0, 0, 0], atol=0.02)
    assert np.allclose(np.abs(pca.components[1]), [0, 1, 0, 0, 0], atol=0.02)
    assert pca.explained[0] > 0.9 and pca.transform(x).shape == (500, 2)


def test_demo_interpolates_samples_and_draws_birds(model_dir, capsys, tmp_path):
    from textgen.core import pretrained

    grid = tmp_path / "birds.png"
    assert main(["demo", "--model", str(model_dir), "-n", "3", "--images-out", str(grid)]) == 0
    out = capsys.readouterr().out
    assert out.count("slerp from") == 2 and "samples from the prior" in out
    assert "0.00 * i want to talk to you" in out  # the tiny model reconstructs its training sentence
    try:
        pretrained.resolve_model_path("birds-gan")
        assert grid.is_file() and "birds from captions" in out
    except ValueError:
        assert not grid.exists() and "(no bird images:" in out
    assert main(["demo", "--model", str(model_dir), "-n", "1", "--images-out", ""]) == 0
    assert "bird" not in capsys.readouterr().out.split("samples from the prior")[1]


def test_shipped_name_that_is_missing_says_how_to_rebuild(monkeypatch):
    from textgen.core.checkpoint import CheckpointError
    from textgen.core import pretrained

    monkeypatch.setitem(pretrained.PRETRAINED_MODELS, "ghost-vae", "pretrained/ghost-vae")
    with pytest.raises(CheckpointError, match="missing from this installation.*build_pretrained"):
        pretrained.resolve_model_path("ghost-vae")


def test_prepare_text_replace_mode():
    tok = Tokenizer.from_vocab(["a", "b"])
    assert prepare_text("a\x97b", tok, errors="replace").text == "a b"
    with pytest.raises(ValueError, match="non-text"):
        prepare_text("a\x97b", tok)


def test_non_text_pattern_is_exactly_the_unicode_rule():
    """Control characters that are not whitespace, surrogates and U+FFFD, over the whole BMP."""
    import unicodedata

    from textgen.tokenization.textprep import _NON_TEXT

    for cp in range(0x10000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        expected = ch == "\ufffd" or cat == "Cs" or (cat == "Cc" and not ch.isspace())
        assert expected == bool(_NON_TEXT.match(ch)), hex(cp)


def test_demo_without_the_shipped_model_says_so_and_tours_the_data(monkeypatch, capsys):
    from textgen.core import pretrained

    monkeypatch.setitem(pretrained.PRETRAINED_MODELS, pretrained.DEFAULT_VAE, "pretrained/not-built-yet")
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "missing from this installation" in out and "build_pretrained" in out
    assert "length-bucketed batches of 32" in out


# ----------------------------------------------------------------------------- conditional VAE

SENTIMENT = {"positive": ("good", "great"), "negative": ("bad", "awful")}


@pytest.fixture(scope="module")
def cvae(tmp_path_factory):
    """A tiny conditional VAE on "the <thing> was <good|great|bad|awful> ." with sentiment labels."""
    tmp = tmp_path_factory.mktemp("cvae")
    rows = [{"text": f"the {n} was {w} .", "label": lab} for n in ("film", "plot", "cast", "story", "music", "ending")
            for lab, words in SENTIMENT.items() for w in words]
    corpus = tmp / "labelled.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows * 2))
    yaml, run = tiny_vae_run(tmp, "cvae", f"data.train={corpus}", "data.valid=null", "train.epochs=40",
                             "model.condition.labels=[negative,positive]", "model.condition.size=8", "optim.lr=0.005")
    assert main(["train-vae", "--config", str(yaml)]) == 0
    return run / "last"


def _sentiment_words(sentence: str) -> set[str]:
    return {lab for lab, words in SENTIMENT.items() if any(w in sentence.split() for w in words)}


def test_transfer_rewrites_for_the_target_label_and_labels_steer_sample_and_interpolate(cvae, said):
    pipe = SentenceVAEPipeline.from_pretrained(cvae, show_progress=False)
    assert pipe.labels == ["negative", "positive"]
    sources = ["the plot was good .", "the music was awful ."]
    assert pipe.predict_labels(sources) == ["positive", "negative"]           # Bayes' rule on the ELBO
    for target in ("negative", "positive"):
        out = pipe.transfer(sources, to=target)
        assert out.source_labels == ["positive", "negative"] and out.target == target
        assert all(_sentiment_words(s) == {target} for s in out.sentences), out.sentences
    said.clear()
    pipe.transfer(sources, to="negative")
    assert "1 of 2 sentence(s) already have the label 'negative' (the likeliest" in said.text
    given = pipe.transfer(sources[0], to="negative", source_labels="positive")
    assert _sentiment_words(given.sentences[0]) == {"negative"}
    guided = pipe.transfer(sources, to="positive", source_labels=["positive", "negative"], guidance=2.0)
    assert all(_sentiment_words(s) == {"positive"} for s in guided.sentences), guided.sentences
    # label guidance away from the target label itself is the plain decoder: (1 + w) lp - w lp = lp
    z, y = pipe.encode(sources, labels=["positive", "negative"]).mu, pipe.model.label_ids(["negative", "positive"])
    for strategy in ("greedy", "beam"):
        plain, s0 = pipe.model.generate(z, labels=y, strategy=strategy, beam_size=3, return_scores=True)
        same, s1 = pipe.model.generate(z, labels=y, away_labels=y, guidance=3.0, strategy=strategy, beam_size=3,
                                       return_scores=True)
        assert same == plain and torch.allclose(s0, s1, atol=1e-4)
    with pytest.raises(ValueError, match="label guidance needs guidance > 0 together with away_labels"):
        pipe.model.generate(z, labels=y, guidance=1.0)
    for label in ("negative", "positive"):
        for w in (0.0, 2.0):                                                   # plain, and with label guidance
            said = pipe.sample(6, label=label, guidance=w, generator=torch.Generator().manual_seed(0)).sentences
            assert all(_sentiment_words(s) == {label} for s in said), said
    path = pipe.interpolate("the plot was good .", "the cast was great .", steps=4, label="negative")
    assert all(_sentiment_words(s) == {"negative"} for s in path.sentences), path.sentences


def test_conditional_verbs_refuse_unknown_missing_or_pointless_labels(cvae, pipe):
    cond = SentenceVAEPipeline.from_pretrained(cvae, show_progress=False)
    with pytest.raises(ValueError, match="unknown label 'happy'; this model knows 'negative', 'positive'"):
        cond.transfer(["the plot was good ."], to="happy")
    with pytest.raises(ValueError, match="conditioned on 'label'; pass label= one of 'negative', 'positive'"):
        cond.sample(2)
    with pytest.raises(ValueError, match="2 labels for 1 sentences"):
        cond.encode(["the plot was good ."], labels=["positive", "negative"])
    with pytest.raises(ValueError, match="transfer needs a conditional VAE"):
        pipe.transfer(["a sentence"], to="positive")
    with pytest.raises(ValueError, match="has no label"):
        pipe.sample(2, label="positive")
    with pytest.raises(ValueError, match="empty"):
        cond.transfer([""], to="positive")
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="guidance must be a number >= 0"):
            cond.transfer(["the plot was good ."], to="negative", guidance=bad)
        with pytest.raises(ValueError, match="guidance must be a number >= 0"):
            cond.sample(2, label="negative", guidance=bad)


def test_a_conditional_model_folder_keeps_its_own_label_guidance(cvae, tmp_path):
    pipe = SentenceVAEPipeline.from_pretrained(cvae, show_progress=False)
    assert pipe.guidance == LABEL_GUIDANCE                          # a folder that names none: the library's default
    sources, labels = ["the plot was good .", "the music was awful ."], ["positive", "negative"]
    own = pipe.transfer(sources, to="negative", source_labels=labels, guidance=5.0).sentences
    pipe.model.config.condition.guidance = 5.0
    pipe.save_pretrained(tmp_path / "w5")
    again = SentenceVAEPipeline.from_pretrained(tmp_path / "w5", show_progress=False)
    assert again.guidance == 5.0
    assert again.transfer(sources, to="negative", source_labels=labels).sentences == own
    assert again.transfer(sources, to="negative", source_labels=labels, guidance=0.0).sentences == \
        pipe.transfer(sources, to="negative", source_labels=labels, guidance=0.0).sentences      # told: as told
    with pytest.raises(ConfigError, match="condition.guidance"):
        ConditionConfig(labels=["a", "b"], guidance=-1.0).validate()


def test_transfer_and_label_on_the_command_line(cvae, capsys):
    assert main(["transfer", "the plot was good .", "the music was awful .", "--to", "negative",
                 "--model", str(cvae), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source_label"] for r in rows] == ["positive", "negative"]
    assert all(_sentiment_words(r["output"]) == {"negative"} for r in rows), rows
    assert main(["sample", "-n", "3", "--label", "positive", "--model", str(cvae)]) == 0
    assert all(_sentiment_words(s) == {"positive"} for s in capsys.readouterr().out.splitlines())
    assert main(["interpolate", "the plot was good .", "the cast was bad .", "--label", "positive",
                 "--model", str(cvae), "--steps", "3"]) == 0
    capsys.readouterr()
    # without --model: the shipped en-sentiment-cvae, on real cased text (transfer, and sample with a label)
    assert main(["transfer", "The food was cold and the staff were rude.", "--to", "positive", "--from", "negative",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["target_label"] == "positive" and row["source_label"] == "negative" and row["output"].strip()
    assert main(["sample", "-n", "2", "--label", "negative"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["transfer", "The food was cold.", "--to", "positive", "--model", "en-lstm-vae"]) == 2
    assert "transfer needs a conditional VAE" in capsys.readouterr().err
    assert main(["transfer", "the plot was good .", "--to", "happy", "--model", str(cvae)]) == 2
    assert "unknown label 'happy'" in capsys.readouterr().err


def test_bleu_is_sacrebleu_with_its_standard_settings():
    import sacrebleu

    from textgen.vae.transfer_eval import bleu, bleu_textgen_legacy, bleu_with_signature

    outputs = ["The film wasn't good fun!", "I loved this movie, really.", "3 1/2 out of 10 stars"]
    sources = ["The film was good fun.", "I loved this show, but I saw it first.", "3 1/2 out of 4 stars"]
    score, signature = bleu_with_signature(outputs, sources)
    assert score == pytest.approx(sacrebleu.corpus_bleu(outputs, [sources]).score)      # the 13a default
    assert bleu(outputs, sources) == score and 0 < score < 100
    assert "nrefs:1" in signature and "tok:13a" in signature and "case:mixed" in signature
    # unlike the legacy figure, case and punctuation count
    pair = (["the plot was good ."], ["The plot was good."])
    assert bleu(*pair) < 100 and bleu_textgen_legacy(*pair) == pytest.approx(100.0)
    assert bleu(["The plot was good."], ["The plot was good."]) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        bleu(["a", "b"], ["a"])


def test_legacy_bleu_and_content_words_on_known_cases():
    from textgen.vae.transfer_eval import bleu_textgen_legacy as bleu, content_kept

    assert bleu(["the plot was good ."], ["the plot was good ."]) == pytest.approx(100.0)
    assert bleu(["a b c d"], ["w x y z"]) == 0.0
    assert bleu(["the film was good fun"], ["the film was good fun ."]) == pytest.approx(100.0)   # punctuation dropped
    assert bleu(["the film was great"], ["the film was good"]) == 0.0          # no 4-gram in common, no smoothing
    # one word changed of five: precisions 4/5, 3/4, 2/3, 1/2; equal lengths, so no brevity penalty
    assert bleu(["the film was really good"], ["the film was really bad"]) == pytest.approx(
        100 * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25)
    # shorter outputs pay the brevity penalty exp(1 - r / c)
    assert bleu(["the film was really"], ["the film was really bad"]) == pytest.approx(100 * math.exp(1 - 5 / 4))
    assert content_kept("the story was bad .", "the plot was good .") == 0.0
    assert content_kept("the plot was bad .", "the plot was good .") == 0.5
    assert content_kept("anything", "it was the") is None


def test_eval_transfer_scores_a_conditional_vae_end_to_end(cvae, tmp_path, capsys):
    rows = [{"text": f"the {n} was {w} .", "label": lab} for n in ("film", "plot", "cast", "story", "music", "ending")
            for lab, words in SENTIMENT.items() for w in words]
    data = tmp_path / "held_out.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "transfer.json"
    assert main(["eval-transfer", "--model", str(cvae), "--data", str(data), "--train-data", str(data),
                 "--num-sentences", "24", "--from-guess", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["source_labels"] == "guessed" and r["guidance"] == 2.0 and r["sample_accuracy"] > 0.9
    assert r["sentences"] == 24 and r["transfers"] == 24 and r["classifier"]["accuracy_on_real"] == 1.0
    assert r["transfer_accuracy"] > 0.9                      # the tiny cVAE swaps the sentiment word
    assert r["own_label_accuracy"] > 0.9                     # and tells the sentiment of its own input
    assert 0 <= r["bleu"] < 100 and r["unchanged"] == 0.0                    # 4-word sentences share few 4-grams
    assert 0 <= r["bleu_textgen_legacy"] < 100 and "tok:13a" in r["bleu_signature"]
    assert 0 <= r["leakage"]["probe_accuracy"] <= 1 and r["leakage"]["majority"] == 0.5
    table = out.with_suffix(".md").read_text()
    assert "transfer accuracy" in table and "(sacreBLEU) | **" in table and "legacy textgen BLEU-4" in table
    assert "Shen et al." in capsys.readouterr().out
    assert main(["plot-latent", "--model", str(cvae), "--data", str(data), "--color-by", "label",
                 "--out", str(tmp_path / "latent.png")]) == 0
    assert (tmp_path / "latent.png").is_file()
