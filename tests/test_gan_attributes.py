"""The attribute classifier that judges caption faithfulness on synthetic birds, and the measure itself."""
import numpy as np
import pytest
import torch

from textgen.data.images import ImageCaptionData
from textgen.birds.attributes import ATTRIBUTES, encode_labels
from textgen.gan.eval.judge import (AttributeClassifier, AttributeClassifierConfig, attribute_accuracy,
                                    train_attribute_classifier)


@pytest.fixture(scope="module")
def birds(tmp_path_factory):
    from textgen.birds.dataset import make_birds_dataset

    out = tmp_path_factory.mktemp("attr") / "birds"
    make_birds_dataset(out, n=96, size=32, show_progress=False)
    return ImageCaptionData.load(out, image_size=16)


def test_label_space_matches_the_renderer():
    from textgen.birds.attributes import COLOR_NAMES, EYE_COLORS

    assert ATTRIBUTES["breast"] == COLOR_NAMES and ATTRIBUTES["eye"] == EYE_COLORS
    labels = encode_labels([{k: v[1] for k, v in ATTRIBUTES.items()}])
    assert all(int(t[0]) == 1 for t in labels.values())


def test_classifier_learns_renders_and_saves(birds, tmp_path):
    clf, report = train_attribute_classifier(birds, image_size=16, steps=60, batch_size=32, channels=8,
                                             val_fraction=0.25, show_progress=False)
    assert report.val_images == 24 and report.train_images == 72 and set(report.accuracy) == set(ATTRIBUTES)
    # trained 60 steps on 72 images: the dominant colours of big parts are already far above chance (1/12)
    assert report.accuracy["back"] > 2 / 12 or report.accuracy["breast"] > 2 / 12
    clf.save_pretrained(tmp_path / "clf")
    again = AttributeClassifier.from_pretrained(tmp_path / "clf")
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert all(torch.equal(a, b) for a, b in zip(clf.predict(x).values(), again.predict(x).values()))
    assert clf.predict(torch.rand(2, 3, 32, 32) * 2 - 1)["crown"].shape == (2,)      # other sizes are resized


def test_render_birds_draws_what_it_labels():
    from textgen.birds.render import render_bird, render_birds
    from textgen.birds.attributes import sample_attributes

    images, attrs, scenes = render_birds(3, 32, seed=5)
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8 and len(attrs) == len(scenes) == 3
    again, attrs2, _ = render_birds(3, 32, seed=5)
    assert np.array_equal(images, again) and attrs == attrs2                              # reproducible
    rng = np.random.default_rng([5, 1])                                                   # bird i: rng [seed, i]
    a = sample_attributes(rng)
    img, layout = render_bird(a, size=32, rng=rng)
    assert a.to_dict() == attrs[1] and scenes[1] == {"background": layout.background, "facing": layout.facing}
    assert np.array_equal(np.asarray(img).transpose(2, 0, 1), images[1])


def test_render_birds_in_processes_gives_the_same_birds(monkeypatch):
    import textgen.birds.render as birds

    monkeypatch.setattr(birds, "_RENDER_CHUNK", 2)                 # 7 birds: 4 chunks, so the pool is used
    one = birds.render_birds(7, 32, seed=3)
    two = birds.render_birds(7, 32, seed=3, workers=2)
    assert np.array_equal(one[0], two[0]) and one[1] == two[1] and one[2] == two[2]
    assert len(two[1]) == len(two[2]) == 7


def test_judge_ignores_what_the_renderer_does_not_draw():
    from textgen.birds.attributes import IGNORE, judge_labels
    from textgen.gan.eval.judge import _cross_entropy

    rows = [{**{k: v[0] for k, v in ATTRIBUTES.items()}, "wing_pattern": p, "wing_pattern_color": "blue"}
            for p in ("solid", "bars", "spotted")]
    y = judge_labels(rows, ATTRIBUTES)
    blue = ATTRIBUTES["wing_pattern_color"].index("blue")
    assert y["wing_pattern_color"].tolist() == [IGNORE, blue, blue]                    # a solid wing has no pattern
    assert torch.equal(y["wing"], encode_labels(rows)["wing"])                         # the rest as encode_labels
    logits = torch.randn(3, 12, requires_grad=True)
    none = _cross_entropy(logits, torch.full((3,), IGNORE))                               # a batch of solid wings
    none.backward()
    assert none.item() == 0.0 and torch.equal(logits.grad, torch.zeros(3, 12))
    assert torch.isclose(_cross_entropy(logits, y["wing_pattern_color"]),
                         torch.nn.functional.cross_entropy(logits[1:], y["wing_pattern_color"][1:]))


def test_classifier_trains_on_fresh_renders_and_scores_drawn_attributes_only(birds):
    from textgen.birds.attributes import judge_labels
    from textgen.gan.eval.judge import _to_float

    clf, report = train_attribute_classifier(birds, image_size=16, steps=30, batch_size=32, channels=8,
                                             val_fraction=0.25, show_progress=False, extra_renders=40)
    assert report.extra_renders == 40 and report.train_images == 72 and report.val_images == 24
    val = np.random.default_rng(0).permutation(len(birds))[:24]                         # the split of seed 0
    pred = clf.predict(_to_float(torch.from_numpy(birds.images[val]), 16))["wing_pattern_color"]
    truth = judge_labels([birds.attributes[i] for i in val], clf.classes)["wing_pattern_color"]
    drawn = truth >= 0
    assert 0 < drawn.sum() < 24                                                         # some solid wings among 24
    assert report.accuracy["wing_pattern_color"] == pytest.approx(float((pred[drawn] == truth[drawn]).float().mean()))


class _Oracle(AttributeClassifier):
    """A perfect judge for the test: images carry their attribute indices in the first pixels."""

    def __init__(self):
        super().__init__(AttributeClassifierConfig(image_size=16, channels=1))

    def predict(self, images, batch_size=256):
        return {k: images[:, 0, 0, i].round().long() for i, k in enumerate(ATTRIBUTES)}


def _generator(follow_caption: bool):
    from textgen.birds.captions import parse_caption

    rng = np.random.default_rng(0)

    def generate(captions, n, generator):
        out = torch.zeros(len(captions) * n, 3, 16, 16)
        for j, c in enumerate(captions):
            stated = parse_caption(c) if follow_caption else {}
            for r in range(n):
                for i, (k, classes) in enumerate(ATTRIBUTES.items()):
                    idx = classes.index(stated[k]) if k in stated else int(rng.integers(len(classes)))
                    out[j * n + r, 0, 0, i] = idx
        return out
    return generate


def test_attribute_accuracy_separates_faithful_from_caption_blind_generators(birds):
    from textgen.birds.captions import parse_caption

    caps = [(c, parse_caption(c)) for caps in birds.captions[:40] for c in caps[:2]]
    faithful = attribute_accuracy(_generator(True), caps, _Oracle(), images_per_caption=2)
    blind = attribute_accuracy(_generator(False), caps, _Oracle(), images_per_caption=2)
    assert faithful.accuracy == 1.0 and faithful.images == 160 and faithful.stated > 160
    assert abs(blind.accuracy - blind.chance) < 0.05 and blind.chance < 0.2            # near chance
    with pytest.raises(ValueError, match="states an attribute"):
        attribute_accuracy(_generator(True), [("hello", {})], _Oracle())


def test_diversity_counts_distinct_colour_combinations(birds):
    from textgen.birds.captions import parse_caption
    from textgen.gan.eval.diversity import caption_diversity, distinct_combinations
    from textgen.gan.eval.common import render_for_caption

    pred = {k: torch.tensor([0, 0, 1, 1]) for k in ATTRIBUTES}
    pred["crown"] = torch.tensor([0, 2, 1, 1])
    assert distinct_combinations(pred) == 3
    real = render_for_caption({"breast": "red"}, 3, 32, seed=1)
    assert real.shape == (3, 3, 32, 32) and real.min() >= -1 and real.max() <= 1
    assert torch.equal(real, render_for_caption({"breast": "red"}, 3, 32, seed=1))            # deterministic
    clf, _ = train_attribute_classifier(birds, image_size=16, steps=5, channels=4, show_progress=False)
    collapsed = lambda caps, n, g: torch.zeros(len(caps) * n, 3, 16, 16)                       # noqa: E731
    caps = [(c, parse_caption(c)) for c in birds.captions[0][:3]]
    d = caption_diversity(collapsed, caps, clf, 16, n=4)
    assert d["generated"] == 1.0 and d["captions"] == 3 and 1.0 <= d["real"] <= 4.0


def test_scene_classifier_learns_backgrounds(birds):
    from textgen.birds.attributes import SCENE

    assert birds.scene[0]["background"] in SCENE["background"] and birds.scene[0]["facing"] in SCENE["facing"]
    clf, report = train_attribute_classifier(birds, image_size=16, steps=80, batch_size=32, channels=8,
                                             val_fraction=0.25, show_progress=False, label_space="scene")
    assert set(report.accuracy) == {"background", "facing"} and clf.config.label_space == "scene"
    assert report.accuracy["background"] > 0.6                       # chance 1/3: sky and foliage are easy to see
    with pytest.raises(ValueError, match="scene"):
        train_attribute_classifier(ImageCaptionData(birds.images[:4], birds.captions[:4]), image_size=16, steps=1,
                                   show_progress=False, label_space="scene")


def test_scene_coverage_finds_a_dropped_background(monkeypatch):
    import textgen.gan.eval.common as common
    import textgen.gan.eval.scene as ev
    from textgen.birds.attributes import SCENE

    class SceneOracle(AttributeClassifier):                          # reads the scene from the first two pixels
        def __init__(self):
            super().__init__(AttributeClassifierConfig(image_size=16, channels=1, label_space="scene"))

        def predict(self, images, batch_size=256):
            return {k: images[:, 0, 0, i].round().long() for i, k in enumerate(SCENE)}

    def coded(backgrounds):
        x = torch.zeros(len(backgrounds), 3, 16, 16)
        x[:, 0, 0, 0] = torch.tensor(backgrounds, dtype=torch.float)
        return x

    # real renders of caption k: background k % 3, facing left
    monkeypatch.setattr(common, "render_for_caption", lambda stated, n, size, seed=0: coded([seed % 3] * n))
    caps = [(f"caption {k}", {}) for k in range(30)]
    foliage_only = lambda captions, n, g: coded([1] * len(captions) * n)                    # noqa: E731
    faithful = lambda captions, n, g: coded([k % 3 for k in range(len(captions))])           # noqa: E731
    r = ev.scene_coverage(foliage_only, caps, SceneOracle(), 16)["labels"]
    assert r["background"]["generated"] == {"sky": 0.0, "foliage": 1.0, "branch": 0.0}
    assert r["background"]["real"] == pytest.approx({"sky": 1 / 3, "foliage": 1 / 3, "branch": 1 / 3})
    assert r["background"]["tv_distance"] == pytest.approx(2 / 3) and r["background"]["dropped"] == ["sky", "branch"]
    assert r["facing"]["tv_distance"] == 0 and r["facing"]["dropped"] == []
    r = ev.scene_coverage(faithful, caps, SceneOracle(), 16)["labels"]
    assert r["background"]["tv_distance"] == pytest.approx(0) and r["background"]["dropped"] == []


def test_faithfulness_subset_weights_by_statements():
    from textgen.birds.attributes import ATTRIBUTES
    from textgen.gan.eval.judge import FaithfulnessReport

    r = FaithfulnessReport(captions=3, images=3, stated=4, accuracy=0.75, per_attribute={"crown": 0.5, "size": 1.0},
                           counts={"crown": 2, "size": 2})
    sub = r.subset(["crown", "size", "tail"])                       # tail: never stated, ignored
    assert sub["attributes"] == ["crown", "size"] and sub["stated"] == 4 and sub["accuracy"] == 0.75
    assert abs(sub["chance"] - (2 / len(ATTRIBUTES["crown"]) + 2 / len(ATTRIBUTES["size"])) / 4) < 1e-12
    assert r.subset(["tail"])["stated"] == 0


def test_a_cached_judge_of_an_older_recipe_is_retrained(tmp_path, monkeypatch):
    import json

    import textgen.gan.eval.judge as attributes
    from textgen.birds.dataset import make_birds_dataset
    from textgen.gan.eval.judge import JUDGE_RECIPE, JUDGE_RENDERS_PER_STEP, load_or_train_classifier

    make_birds_dataset(tmp_path, n=24, size=32, show_progress=False)
    clf, report = load_or_train_classifier(tmp_path, 32, steps=2, show_progress=False)
    assert report["recipe"] == JUDGE_RECIPE and report["extra_renders"] == 2 * JUDGE_RENDERS_PER_STEP
    trainer = attributes.train_attribute_classifier
    with monkeypatch.context() as m:
        m.setattr(attributes, "train_attribute_classifier", lambda *a, **k: pytest.fail("the cached judge retrained"))
        cached, _ = load_or_train_classifier(tmp_path, 32, steps=2, show_progress=False)
    assert attributes.train_attribute_classifier is trainer
    assert all(torch.equal(a, b) for a, b in zip(clf.state_dict().values(), cached.state_dict().values()))
    file = tmp_path / ".textgen_eval" / "attribute_classifier_32px" / "classifier_report.json"
    old = json.loads(file.read_text())
    del old["recipe"]                                            # a judge cached before recipe 2
    file.write_text(json.dumps(old))
    _, fresh = load_or_train_classifier(tmp_path, 32, steps=3, show_progress=False)
    assert fresh["steps"] == 3 and fresh["recipe"] == JUDGE_RECIPE


def test_eval_gan_trains_the_judge_for_the_library_default_steps():
    from textgen.cli.main import build_parser
    from textgen.gan.eval.judge import JUDGE_STEPS

    args = build_parser().parse_args(["eval-gan", "--model", "m", "--data", "d"])
    assert args.classifier_steps == JUDGE_STEPS

