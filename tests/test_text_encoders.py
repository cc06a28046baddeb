"""Image-caption folders and the GAN's text encoders (contrastive caption encoder, VAE, local HF model)."""
import logging
import json
import math

import numpy as np
import pytest
import torch

from textgen.data.images import ImageCaptionData, ImageDataError
from textgen.gan.text_encoders import CaptionEncoder, CaptionEncoderConfig, HFTextEncoder, ImageEncoder, ImageEncoderConfig, VAETextEncoder
from textgen.gan.losses import info_nce
from textgen.tokenization import Tokenizer
from textgen.core.checkpoint import CheckpointError
from textgen.core.config import ConfigError

CAPTIONS = ["a red bird with black wings", "a small blue bird with a white belly",
            "this bird has a yellow crown", "a green bird with a long pointed bill"]


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    from textgen.birds.dataset import make_birds_dataset

    out = tmp_path_factory.mktemp("birds") / "b"
    make_birds_dataset(out, n=8, size=32, show_progress=False)
    return out


def test_image_caption_folder_loads(birds):
    data = ImageCaptionData.load(birds, image_size=32)
    assert data.images.shape == (8, 3, 32, 32) and data.images.dtype == np.uint8
    assert len(data.captions[0]) == 10 and data.attributes[0]["breast"]
    assert ImageCaptionData.load(birds, image_size=64, limit=3).images.shape == (3, 3, 64, 64)


def test_image_caption_folder_refusals(birds, tmp_path, caplog):
    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    rows = [json.loads(line) for line in (birds / "metadata.jsonl").read_text().splitlines()]
    for r in rows:
        (bad / r["file_name"]).write_bytes((birds / r["file_name"]).read_bytes())
    (bad / "images" / "000001.png").write_bytes(b"not a png")
    (bad / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING, logger="textgen"):
        data = ImageCaptionData.load(bad, image_size=32)
    assert "skipped 1 image(s)" in caplog.text
    assert len(data) == 7 and data.skipped[0].startswith("images/000001.png")
    with pytest.raises(ImageDataError, match="more than 0 images"):
        ImageCaptionData.load(bad, image_size=32, max_bad=0)
    rows[0]["file_name"] = "../../etc/passwd"
    (bad / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ImageDataError, match="points outside"):
        ImageCaptionData.load(bad, image_size=32)
    with pytest.raises(ImageDataError, match="no metadata.jsonl"):
        ImageCaptionData.load(tmp_path, image_size=32)
    with pytest.raises(ImageDataError, match="does not exist"):
        ImageCaptionData.load(tmp_path / "nope")


def test_caption_encoder_and_contrastive_training():
    torch.manual_seed(0)
    tok = Tokenizer.train(CAPTIONS, kind="word")
    text = CaptionEncoder(CaptionEncoderConfig(tok.vocab_size, dim=16, embed_size=16, hidden_size=16), tokenizer=tok)
    e = text.encode(CAPTIONS)
    assert e.shape == (4, 16) and torch.allclose(e.norm(dim=1), torch.ones(4), atol=1e-5)
    with pytest.raises(ValueError, match="caption 1 is empty"):
        text.encode(["a red bird", "  "])
    with pytest.raises(ValueError, match="no word the text encoder knows"):
        text.encode(["zzz qqq"])
    with pytest.raises(ValueError, match="no word the text encoder knows"):
        text.encode(["zzz zzz"])                      # one unknown word twice is still nothing known
    assert text.encode(["zzz red zzz"]).shape == (1, 16)
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    image = ImageEncoder(ImageEncoderConfig(dim=16, channels=8, image_size=32))
    batch = tok.encode_batch(CAPTIONS)
    opt = torch.optim.Adam([*text.parameters(), *image.parameters()], lr=1e-2)
    first = None
    for _ in range(40):
        loss = info_nce(text(batch.input_ids, batch.lengths), image(images))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 0.5 * math.log(4) and loss.item() < 0.1 * first


def test_image_encoder_pools_keep_or_drop_where_a_colour_is(tmp_path):
    torch.manual_seed(0)
    top, bottom = torch.full((1, 3, 32, 32), -1.0), torch.full((1, 3, 32, 32), -1.0)
    top[..., 2:6, 12:20] = 1.0                     # the same red patch, at the top or at the bottom
    bottom[..., 26:30, 12:20] = 1.0
    bottom = bottom.flip(-1)                       # mirrored too: same pixels, same counts, other place
    flat = ImageEncoder(ImageEncoderConfig(dim=16, channels=8, image_size=32, pool="flatten")).eval()
    e = flat(torch.cat([top, bottom]))
    assert e.shape == (2, 16) and torch.allclose(e.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert (e[0] - e[1]).abs().max() > 1e-3
    flat.save_pretrained(tmp_path / "flat")
    again = ImageEncoder.from_pretrained(tmp_path / "flat").eval()
    assert again.config.pool == "flatten" and torch.allclose(again(top), flat(top))
    with pytest.raises(ConfigError, match="pool"):
        ImageEncoder(ImageEncoderConfig(pool="max"))


def test_image_encoder_depth_adds_full_resolution_convs_and_keeps_old_folders_loading(tmp_path):
    import json

    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    shallow = ImageEncoder(ImageEncoderConfig(dim=16, channels=8, image_size=32))
    deep = ImageEncoder(ImageEncoderConfig(dim=16, channels=8, image_size=32, depth=2)).eval()
    assert shallow.net[0](x).shape == (2, 8, 16, 16)                # depth 1: halves at once
    assert deep.net[0](x).shape == (2, 8, 32, 32)                   # depth 2: a 3x3 conv at 32 px first
    convs = [m for m in deep.net if isinstance(m, torch.nn.Conv2d)]
    assert [m.stride[0] for m in convs] == [1, 2, 1, 2, 1, 2]        # 32 -> 16 -> 8 -> 4, looking at each
    assert deep(x).shape == (2, 16)
    deep.save_pretrained(tmp_path / "deep")
    again = ImageEncoder.from_pretrained(tmp_path / "deep").eval()
    assert again.config.depth == 2 and torch.allclose(again(x), deep(x))
    # a folder saved before `depth` existed (no such key in config.json) loads as depth 1, weights and all
    shallow.eval().save_pretrained(tmp_path / "old")
    cfg_file = tmp_path / "old" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["config"].pop("depth")
    cfg_file.write_text(json.dumps(cfg))
    old = ImageEncoder.from_pretrained(tmp_path / "old").eval()
    assert old.config.depth == 1 and torch.allclose(old(x), shallow(x))
    with pytest.raises(ConfigError, match="depth"):
        ImageEncoder(ImageEncoderConfig(depth=0))


def test_caption_encoder_save_load_round_trip(tmp_path):
    tok = Tokenizer.train(CAPTIONS, kind="word")
    enc = CaptionEncoder(CaptionEncoderConfig(tok.vocab_size, dim=16, embed_size=8, hidden_size=8), tokenizer=tok)
    enc.save_pretrained(tmp_path / "enc")
    again = CaptionEncoder.from_pretrained(tmp_path / "enc")
    assert torch.allclose(again.encode(CAPTIONS), enc.encode(CAPTIONS))


def test_info_nce_on_known_cases():
    eye = torch.eye(8)
    assert info_nce(eye, eye, temperature=0.01).item() < 1e-6           # perfect alignment
    same = torch.nn.functional.normalize(torch.ones(8, 8), dim=1)
    assert abs(info_nce(same, same).item() - math.log(8)) < 1e-5       # no information: log B
    # an extra caption identical to an image's own: the image can only split its bet, 1/2 each: (0 + log 2) / 2
    assert abs(info_nce(eye, eye, temperature=0.01, extra_text=eye).item() - 0.5 * math.log(2)) < 1e-5
    assert info_nce(eye, eye, temperature=0.01, extra_text=-eye).item() < 1e-6      # far negatives cost nothing
    assert info_nce(eye, eye, extra_text=eye[:0]).item() == info_nce(eye, eye).item()


def test_vae_text_encoder(model_dir):
    enc = VAETextEncoder(model_dir)
    out = enc.encode(["i want to talk to you", "the market fell on monday"])
    assert out.shape == (2, enc.dim) and enc.dim == 8


def test_hf_text_encoder_mean_pools_a_local_model(tmp_path):
    from transformers import BertConfig, BertModel

    tok = Tokenizer.train(CAPTIONS, kind="word")
    folder = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(folder)
    tok.save(folder)
    enc = HFTextEncoder(folder)
    out = enc.encode(CAPTIONS)
    assert out.shape == (4, 16) and enc.dim == 16
    assert torch.allclose(enc.encode(CAPTIONS[:1]), out[:1], atol=1e-5)  # padding does not change the pooling
    with pytest.raises(FileNotFoundError, match="not a local model directory"):
        HFTextEncoder(tmp_path / "missing")


def test_a_folder_says_which_text_encoder_it_holds(tmp_path, model_dir):
    from textgen.core.checkpoint import CheckpointError
    from textgen.gan.text_encoders import load_text_encoder, text_encoder_kind

    tok = Tokenizer.train(CAPTIONS, kind="word")
    CaptionEncoder(CaptionEncoderConfig(tok.vocab_size, dim=16, embed_size=8, hidden_size=8),
                   tokenizer=tok).save_pretrained(tmp_path / "enc")
    assert text_encoder_kind(tmp_path / "enc") == "caption" and text_encoder_kind(model_dir) == "vae"
    assert isinstance(load_text_encoder(model_dir), VAETextEncoder)
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "bert"}')     # another library's folder
    assert text_encoder_kind(tmp_path / "hf") == "hf"
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "config.json").write_text('{"format": "textgen-model", "model_type": "bird-attribute-classifier"}')
    with pytest.raises(CheckpointError, match="not a text encoder"):
        text_encoder_kind(judge)
    with pytest.raises(CheckpointError, match="no config.json"):
        text_encoder_kind(tmp_path)


def test_retrieval_at_k_on_known_cases():
    from textgen.gan.text_encoder_training import retrieval_at_k

    eye = torch.eye(10)
    assert retrieval_at_k(eye, eye, (1, 5), pool=10) == {1: 1.0, 5: 1.0}
    shifted = eye.roll(1, 0)                                  # every caption is closest to the next image
    r = retrieval_at_k(shifted, eye, (1, 5), pool=10)
    assert r[1] == 0.0 and r[5] == 1.0                        # its own image ties with 8 others for second
    assert retrieval_at_k(eye, eye, (1,), pool=4)[1] == 1.0   # two pools of 4, the 2 left over dropped


def test_train_text_encoder_command_writes_a_usable_encoder(tmp_path):
    from textgen.cli import main
    from textgen.birds.dataset import make_birds_dataset

    data = tmp_path / "birds"
    make_birds_dataset(data, n=48, size=32, show_progress=False)
    out = tmp_path / "enc"
    code = main(["train-text-encoder", "--data", str(data), "--out", str(out), "--size", "32", "--steps", "30",
                 "--dim", "16", "--min-freq", "1", "--batch-size", "16", "--device", "cpu", "--quiet",
                 "--image-depth", "2", "--image-channels", "8"])
    assert code == 0
    image_enc = ImageEncoder.from_pretrained(out / "image_encoder")
    assert image_enc.config.depth == 2 and image_enc.config.channels == 8
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 30 and report["val_images"] == 2 and report["train_images"] == 46
    assert math.isfinite(report["final_loss"]) and report["final_loss"] < math.log(16)   # below chance InfoNCE
    enc = CaptionEncoder.from_pretrained(out)
    e = enc.encode(["a red bird with black wings", "a blue bird"])
    assert e.shape == (2, 16) and torch.allclose(e.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert main(["train-text-encoder", "--data", str(tmp_path / "nope"), "--out", str(out)]) == 2

    assert main(["probe-text-encoder", "--encoder", str(out), "--num-captions", "300", "--data", str(data),
                 "--out", str(tmp_path / "probe.json")]) == 0
    probes = json.loads((tmp_path / "probe.json").read_text())
    assert set(probes["text"]) >= {"crown", "wing", "bill", "size"}
    for r in probes["text"].values():                     # a share of the held-out 20% of the captions probed
        held_out = r["n"] - int(r["n"] * 0.8)
        assert r["accuracy"] * held_out == pytest.approx(round(r["accuracy"] * held_out))
    assert probes["image"]["wing"]["n"] == 48
    patterned = sum(json.loads(line)["attributes"]["wing_pattern"] != "solid"      # a solid wing has no pattern colour
                    for line in (data / "metadata.jsonl").read_text().splitlines())
    assert 0 < patterned < 48 and probes["image"]["wing_pattern_color"]["n"] == patterned
    edits = probes["edit"]
    assert 0 < edits["all"]["n"] <= 48 and sum(r["n"] for k, r in edits.items() if k != "all") == edits["all"]["n"]
    assert main(["probe-text-encoder", "--encoder", str(out), "--num-captions", "10"]) == 2
    # real captions of a held-out class (and their misspelt copies) are probed too
    colours = ["red", "blue", "yellow", "black", "white", "green"]
    cub = tmp_path / "cub.jsonl"
    cub.write_text("".join(json.dumps({"class_id": 2, "captions": [f"this bird has a {c} belly and {d} wings"
                                                                    for d in colours]}) + "\n" for c in colours * 5))
    assert main(["probe-text-encoder", "--encoder", str(out), "--num-captions", "150", "--cub-captions", str(cub),
                 "--typo-rate", "0.3", "--out", str(tmp_path / "probe2.json")]) == 0
    probes = json.loads((tmp_path / "probe2.json").read_text())
    assert probes["cub text"]["belly"]["n"] == 150 and "wing" in probes["cub misspelt"]


def test_edit_ranking_compares_each_render_s_caption_with_its_one_word_edit(tmp_path):
    """Known cases: an encoder pair that prefers the data's own captions wins every edit; one that cannot
    tell captions apart wins none (a tie is not a win)."""
    from textgen.birds.dataset import make_birds_dataset
    from textgen.gan.text_encoder_training import edit_ranking

    make_birds_dataset(tmp_path / "b", n=40, size=32, show_progress=False)
    data = ImageCaptionData.load(tmp_path / "b", image_size=32)
    own = {c for caps in data.captions for c in caps}

    class Text:                                     # +1 for a caption of the data, -1 for anything else
        def encode(self, texts):
            return torch.tensor([[1.0 if t in own else -1.0] for t in texts])

    class Image(torch.nn.Module):
        config = ImageEncoderConfig(dim=1, image_size=32)

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            return self.w.expand(x.size(0), 1)

    good = edit_ranking(Text(), Image(), data)
    assert good["all"]["accuracy"] == 1.0 and 30 <= good["all"]["n"] <= 40
    assert sum(r["n"] for k, r in good.items() if k != "all") == good["all"]["n"]
    assert {"crown", "size"} & set(good) and all(r["accuracy"] == 1.0 for r in good.values())
    blind = Text()
    blind.encode = lambda texts: torch.ones(len(texts), 1)
    assert edit_ranking(blind, Image(), data)["all"]["accuracy"] == 0.0


def test_caption_reconstruction_keeps_what_the_images_cannot_show():
    """Identical images give InfoNCE nothing to learn from, so only the reconstruction term can make the
    embedding carry the crown colour; the held-out captions are then rebuilt word for word."""
    from textgen.gan.text_encoder_training import train_caption_encoder

    colours = ["red", "blue", "green", "yellow"]
    captions = [[f"a bird with a {colours[i % 4]} crown"] for i in range(40)]
    data = ImageCaptionData(images=np.full((40, 3, 32, 32), 128, dtype=np.uint8), captions=captions)
    kwargs = dict(image_size=32, dim=16, vocab_min_freq=1, batch_size=16, val_fraction=0.25, device="cpu",
                  show_progress=False, image_channels=8)
    enc, image, report = train_caption_encoder(data, steps=500, lr=1e-2, recon_weight=1.0, image_pool="flatten",
                                               **kwargs)
    assert image.config.pool == "flatten"
    # "a bird with a <colour> crown <eos>": 6 of 7 tokens need no information; guessing the colour gives 6.25/7
    assert report.recon_weight == 1.0 and report.val_word_accuracy > 0.97 and report.final_recon_loss < 0.01
    e = enc.encode([f"a bird with a {c} crown" for c in colours])
    assert (e @ e.t()).fill_diagonal_(-1).max() < 0.99               # four distinct embeddings
    _, _, plain = train_caption_encoder(data, steps=2, **kwargs)
    assert plain.recon_weight == 0 and plain.val_word_accuracy is None and "reconstruction" not in plain.summary()
    assert "next-word accuracy" in report.summary()
    with pytest.raises(ValueError, match="recon_weight must be >= 0"):
        train_caption_encoder(data, steps=1, recon_weight=-1.0, **kwargs)


def test_attribute_probe_reads_what_an_embedding_carries():
    from textgen.gan.eval.common import grammar_captions
    from textgen.gan.text_encoder_training import attribute_probe
    from textgen.birds.attributes import COLOR_NAMES

    class Words:                  # a bag of colour words: colours are there, which part they belong to is not
        dim = len(COLOR_NAMES)

        def encode(self, captions):
            return torch.tensor([[float(c in caption.split()) for c in COLOR_NAMES] for caption in captions])

    class CrownOnly(Words):       # knows the crown's colour exactly, nothing else
        def __init__(self, stated):
            self.stated = stated

        def encode(self, captions):
            rows = [[float(self.stated[c].get("crown") == k) for k in COLOR_NAMES] for c in captions]
            return torch.tensor(rows) + 0.01 * torch.randn(len(captions), self.dim)

    caps = grammar_captions(1500, seed=5)
    crown = attribute_probe(CrownOnly(dict(caps)), caps)
    assert crown["crown"]["accuracy"] > 0.98 and crown["crown"]["n"] > 300
    assert crown["wing"]["accuracy"] < crown["wing"]["majority"] + 0.1            # nothing about wings: chance
    words = attribute_probe(Words(), caps)
    assert words["size"]["accuracy"] <= words["size"]["majority"] + 0.1           # no size words in the bag
    assert words["wing"]["majority"] + 0.15 < words["wing"]["accuracy"] < 0.9     # colours without their parts
    with pytest.raises(ValueError, match="train_fraction"):
        attribute_probe(Words(), caps, train_fraction=1.0)


REAL_STYLE = ["this bird has a bright yellow crown and black wings", "a small bird with a white belly and a black bill",
              "the bird has a red breast and brown wings with white wingbars", "yellow bird with black wings",
              "a bird with a grey throat and a short pointed bill"] * 4


def test_misspell_makes_one_edit_per_chosen_long_word_and_keeps_short_ones():
    from textgen.gan.text_encoder_training import misspell

    rng = np.random.default_rng(0)
    caption = "a small yellow bird with black wings and a red crown"
    assert misspell(caption, rng, 0.0) == caption
    for _ in range(50):
        out = misspell(caption, rng, 1.0).split()
        for before, after in zip(caption.split(), out):
            if len(before) < 4:
                assert after == before
            else:
                assert after[0] == before[0] and abs(len(after) - len(before)) <= 1
                assert after != before or len(set(before)) < len(before)     # doubling a double letter is a no-op


def test_subword_caption_encoder_reads_misspellings_as_pieces_and_names_them(tmp_path):
    from textgen.gan.text_encoder_training import caption_tokenizer, training_words

    from textgen.gan.eval.common import grammar_captions

    texts = REAL_STYLE + [c for c, _ in grammar_captions(300)]
    tok = caption_tokenizer(texts, "unigram", vocab_size=150)
    assert tok.kind == "unigram"
    words = training_words(texts, min_freq=2)
    enc = CaptionEncoder(CaptionEncoderConfig(tok.vocab_size, dim=8, embed_size=8, hidden_size=8, words=words), tokenizer=tok)
    assert enc.unfamiliar_words("A yelow bird with balck wigns.") == ["yelow", "balck", "wigns"]
    assert enc.unfamiliar_words("a yellow bird with black wings") == []
    assert tok.unknown_words("a yelow bird with balck wigns") == []          # pieces, not <unk> ...
    assert enc.encode(["a yelow bird with balck wigns"]).shape == (1, 8)     # ... and not a refusal
    with pytest.raises(ValueError, match="no word the text encoder knows"):
        enc.encode(["qqq xxx"])
    assert enc.too_long(" ".join(["yellow"] * 200)) and not enc.too_long("a yellow bird")
    enc.save_pretrained(tmp_path / "enc")                                   # the word list travels with the folder
    back = CaptionEncoder.from_pretrained(tmp_path / "enc")
    assert back.config.words == words and back.unfamiliar_words("a yelow bird") == ["yelow"]
    # a word tokenizer names its <unk> words
    word = CaptionEncoder(CaptionEncoderConfig(60, dim=8, embed_size=8, hidden_size=8),
                          tokenizer=Tokenizer.train(REAL_STYLE, kind="word"))
    assert word.unfamiliar_words("a yelow bird") == ["yelow"]
