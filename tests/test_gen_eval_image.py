"""IS, FID and precision-recall of image-level generators (docs/method.md, Generator evaluation): generated and real
test images go through the run's frozen pre-trained encoder, then the evaluation classifier scores the features as
on the hidden-feature path, with the classifier that runs of the same encoder share."""

from __future__ import annotations

import math
import os
from typing import Any, cast

import pytest
import torch

from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.gen_eval.classifier import EvalClassifier, cache_path
from birsweep.gen_eval.evaluate import Subject, image_metrics
from birsweep.gen_eval.feature_space import hidden_space, image_space
from birsweep.tracking import record
from birsweep.train.generator_eval import feature_space
from birsweep.train.loop.run import Run, train
from tests.helpers import make_cfg
from tests.test_image_level import CONV, launch_tiny_cifar, weights  # noqa: F401  (the fixture)

EVAL_GEN = [  # a short evaluation, a tiny classifier recipe
    "eval_gen.samples=4",
    "eval_gen.classifier.fc_units=32",
    "eval_gen.classifier.batch_size=32",
    "eval_gen.classifier.max_iters=3",
]


def _overrides(tmp_path, path, *extra):
    return [*CONV, f"model.encoder.weights={path}", f"paths.cache_dir={tmp_path / 'cache'}", *EVAL_GEN, *extra]


def _figures_are_finite(figures):
    assert 1.0 <= figures["is"] <= 20 and math.isfinite(figures["fid"]) and figures["fid"] > 0, figures
    assert len(figures["precision"]) == len(figures["recall"]) == 1001
    assert all(0 <= v <= 1 for v in figures["precision"] + figures["recall"])


def test_gr_on_images_gets_figures_and_shares_the_classifier_with_hidden_replay(weights, tmp_path):  # noqa: F811
    path, _ = weights
    train(make_cfg(_overrides(tmp_path, path, "method=gr", "eval_gen.classifier_metrics=true")), str(tmp_path / "gr"))
    rec = record.load(tmp_path / "gr")
    assert rec["config"]["method"]["train_conv"] is True  # images through conv layers the generator trains
    figures = rec["generator_eval"]
    assert "image_metrics_skipped" not in figures and figures["classifier_trained"] is True
    assert figures["n_test"] == figures["n_generated"] == 2 * 2 * 5  # both tasks' test images, as many generated
    _figures_are_finite(figures)

    # BI-R with internal replay on the same encoder and data (auto): the image run's classifier, from the cache
    train(make_cfg(_overrides(tmp_path, path, "eval_gen.classifier_metrics=auto")), str(tmp_path / "bir"))
    hidden = record.load(tmp_path / "bir")["generator_eval"]
    assert hidden["classifier"] == figures["classifier"] and hidden["classifier_trained"] is False
    _figures_are_finite(hidden)


def test_auto_without_a_cached_classifier_skips_and_false_skips(weights, tmp_path):  # noqa: F811
    path, _ = weights
    for mode in ("auto", "false"):
        cfg = make_cfg(_overrides(tmp_path, path, "ablation=no_internal", f"eval_gen.classifier_metrics={mode}"))
        train(cfg, str(tmp_path / mode))
    auto, off = (record.load(tmp_path / m)["generator_eval"] for m in ("auto", "false"))
    assert "not cached" in auto["image_metrics_skipped"] and math.isfinite(auto["ll"])
    assert off["image_metrics_skipped"] == "eval_gen.classifier_metrics=false" and "is" not in off


def _setup(tmp_path, name, path, *extra):
    run = Run(make_cfg(_overrides(tmp_path, path, "eval_gen.classifier_metrics=true", *extra)), str(tmp_path / name))
    run.setup()
    return run


@torch.no_grad()
def test_the_image_path_equals_the_hidden_path_on_the_encoders_features(weights, tmp_path):  # noqa: F811
    """Generated images -> encoder -> classifier gives the figures of a feature generator that produces those
    features; the real side: test images through the encoder are the hidden run's cached test features."""
    path, _ = weights
    image_run, hidden_run = _setup(tmp_path, "gr", path, "method=gr"), _setup(tmp_path, "bir", path)
    assert isinstance(image_run.inputs, ImageInputs) and isinstance(hidden_run.inputs, Inputs)
    encoder = image_run.encoder
    assert encoder is not None and not encoder.training
    image, hidden = feature_space(image_run), feature_space(hidden_run)
    assert not isinstance(image, str) and not isinstance(hidden, str)
    assert image.embed is encoder
    recipe = image_run.cfg.eval_gen.classifier
    cache = image_run.cfg.paths.cache_dir
    rows = torch.cat(image_run.test_idx)
    hidden_run.inputs.ensure(torch.cat(hidden_run.train_idx), rows)
    real_images, real_features = image_run.inputs.test[rows], hidden_run.inputs.test[rows]
    assert torch.allclose(encoder(real_images), real_features, atol=1e-5)  # the features cache encodes the same way
    file = cache_path(recipe, image.data, cache)
    assert file == cache_path(recipe, hidden.data, cache)  # one classifier for both
    # in the cache: a random classifier on the standardised features, confident and varied (IS well above 1; a few
    # steps of training on the random encoder's near-constant features leave it at chance and IS at 1)
    torch.manual_seed(0)
    classifier = EvalClassifier(image.data.dim, recipe.fc_units, 4)
    first = classifier.fcE[0]
    mean, sd = real_features.mean(0), real_features.std(0).clamp_min(1e-6)
    first.weight.mul_(10 / sd)
    first.bias.copy_(-first.weight @ mean)
    classifier.classifier.weight.mul_(10)
    os.makedirs(os.path.dirname(file))
    torch.save({"state": classifier.state_dict()}, file)

    labels_real = image_run.test_y[rows]
    by_class = [real_images[labels_real == c] for c in range(4)]

    def images(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A test image of each label, with noise."""
        pick = torch.randint(0, 5, (len(labels),), generator=gen, device=gen.device)
        x = torch.stack([by_class[int(c)][int(p)] for c, p in zip(labels, pick)])
        return x + 0.1 * torch.randn(x.shape, generator=gen, device=gen.device)

    def features(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return encoder(images(labels, gen))

    view = cast(Any, None)  # IS, FID and precision-recall only sample
    out = []
    for subject, space, real in ((images, image, real_images), (features, hidden, real_features)):
        gen = torch.Generator().manual_seed(7)
        cfg = image_run.cfg.eval_gen
        out.append(image_metrics(cfg, Subject(view, subject), space, real, 4, cache, image_run.device, gen, 0))
    by_images, by_features = out
    assert by_images["classifier"] == by_features["classifier"] == file
    _figures_are_finite(by_images)
    assert by_images["is"] > 1.2 and max(by_images["precision"]) > 0.1 and max(by_images["recall"]) > 0.1
    assert by_images["is"] == pytest.approx(by_features["is"], rel=1e-5)
    assert by_images["fid"] == pytest.approx(by_features["fid"], rel=1e-4, abs=1e-4)
    assert by_images["precision"] == pytest.approx(by_features["precision"], abs=1e-5)
    assert by_images["recall"] == pytest.approx(by_features["recall"], abs=1e-5)


def test_hidden_space_is_the_identity_and_pixel_models_skip_with_their_reason(tmp_path):
    run = Run(make_cfg(["debug=tiny", f"paths.cache_dir={tmp_path / 'cache'}"]), str(tmp_path / "pixels"))
    run.setup()
    reason = feature_space(run)
    assert isinstance(reason, str) and "conv" in reason
    h = torch.randn(3, 5)
    assert isinstance(run.inputs, Inputs) and hidden_space(run.inputs).embed(h) is h


def test_a_trainable_encoder_is_refused(weights, tmp_path):  # noqa: F811
    path, _ = weights
    run = _setup(tmp_path, "gr", path, "method=gr")
    assert isinstance(run.inputs, ImageInputs)
    with pytest.raises(ValueError, match="frozen"):
        image_space(run.inputs, run.model.convE.train())


@pytest.mark.slow
def test_gr_on_tiny_cifar_files_end_to_end(weights, tmp_path):  # noqa: F811
    # precision-recall takes 20 clusters: 5 test images per class
    out = launch_tiny_cifar(
        tmp_path, weights[0], "method=gr", "eval_gen.classifier_metrics=true", *EVAL_GEN, per_class_test=5
    )
    assert out.returncode == 0, out.stderr
    rec = record.load(tmp_path / "run")
    figures = rec["generator_eval"]
    assert rec["status"] == "completed" and figures.get("classifier_trained") is True, figures
    assert figures["n_test"] == figures["n_generated"] == 2 * 2 * 5  # 2 classes per task, 5 test images each
    assert math.isfinite(figures["is"]) and 1.0 <= figures["is"] <= 20 and math.isfinite(figures["fid"])
    assert len(figures["precision"]) == len(figures["recall"]) == 1001
    assert (tmp_path / "cache" / "eval_classifiers").is_dir()
    assert not (tmp_path / "cache" / "features").exists()  # the classifier encodes images: no feature cache needed
