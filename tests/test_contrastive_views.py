"""The contrastive term's image views (birsweep/methods/contrastive_views.py): the default recipe's batched ops
equal kornia's, its parameter distribution is kornia's, and the fork's recipe has the fork's ops and rates."""

from __future__ import annotations

import math

import kornia.augmentation as KA
import kornia.enhance as KE
import pytest
import torch

from birsweep.app import run
from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.methods.contrastive_views import (
    BirsweepViews,
    ForkViews,
    kornia_views,
    make_views,
    resized_crop,
    shift_hue,
)
from birsweep.models.encoder import ConvEncoder
from birsweep.tracking import record
from tests.helpers import TINY, cli, make_cfg

CPU = torch.device("cpu")
# a small RGB conv run: synthetic 3x32x32 images through a random frozen C3-5x16-bn encoder
CONV = [*TINY, "data.synthetic.shape=[3,32,32]", "model=bir_conv", "model.encoder.weights=random"]


def test_shift_hue_is_korniass_adjust_hue():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    x[:4] = x[:4, :1]  # grey pixels: no chroma, hue undefined
    x[4:8, 1] = x[4:8, 0]  # ties between the largest channels
    turns = torch.rand(64) - 0.5
    assert torch.allclose(shift_hue(x, turns), KE.adjust_hue(x, turns * 2 * math.pi), atol=1e-5)
    assert torch.allclose(shift_hue(x, torch.zeros(64)), x, atol=1e-5)


def test_resized_crop_is_kornias_crop_and_resize():
    torch.manual_seed(1)
    x = torch.rand(128, 3, 32, 32)
    crop = KA.RandomResizedCrop((32, 32), scale=(0.6, 1.0))
    params = crop.forward_parameters(x.shape)
    assert torch.allclose(resized_crop(x, params["src"], (32, 32)), crop(x, params=params), atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
def test_default_views_draw_and_compute_as_the_kornia_sequence(shape):
    """Same seed, same draws in the same order: the batched views equal kornia's AugmentationSequential."""
    x = torch.rand(32, *shape)
    reference, views = kornia_views(shape[0], shape[1:], CPU), BirsweepViews(shape[0], shape[1:], CPU)
    for seed in range(2):
        torch.manual_seed(seed)
        expected = reference(x)
        torch.manual_seed(seed)
        assert torch.allclose(views(x), expected, atol=1e-5)


def test_default_views_parameter_distribution():
    """Over many draws: flip 1/2, crop area 0.6-1 of the image with aspect 3/4-4/3, jitter 0.8, grayscale 0.2."""
    torch.manual_seed(2)
    views = BirsweepViews(3, (32, 32), CPU)
    shape = torch.Size((20000, 3, 32, 32))
    flip, crop, jitter, gray = (a.forward_parameters(shape) for a in (views.flip, views.crop, views.jitter, views.gray))
    assert flip["batch_prob"].float().mean().item() == pytest.approx(0.5, abs=0.02)
    box = crop["src"].float()
    w, h = box[:, 1, 0] - box[:, 0, 0] + 1, box[:, 3, 1] - box[:, 0, 1] + 1
    area = w * h / 1024
    assert area.min().item() >= 0.55 and area.max().item() <= 1.0  # integer boxes round the 0.6 bound
    assert 0.72 < area.mean().item() < 0.8  # uniform scale in [0.6, 1], box sides rounded down to whole pixels
    assert (w / h).min().item() >= 0.7 and (w / h).max().item() <= 1.4
    assert jitter["batch_prob"].float().mean().item() == pytest.approx(0.8, abs=0.02)
    assert jitter["hue_factor"].abs().max().item() <= 0.1 and jitter["brightness_factor"].min().item() >= 0.6
    assert gray["batch_prob"].float().mean().item() == pytest.approx(0.2, abs=0.02)


def test_fork_recipe_ops_and_rates():
    views = ForkViews(3, CPU)
    kinds = [type(op) for op in views.ops]
    assert kinds == [KA.RandomHorizontalFlip, KA.RandomChannelShuffle, KA.RandomCrop, KA.RandomGrayscale]
    torch.manual_seed(3)
    x = torch.randn(4000, 3, 32, 32)  # normalised images: any range
    out = views(x)
    rates = [op._params["batch_prob"].float().mean().item() for op in views.ops if not isinstance(op, KA.RandomCrop)]
    assert rates == pytest.approx([0.5, 0.75, 0.25], abs=0.03)
    # flip, shuffle, crop and grayscale (weights summing to 1) keep every pixel in its image's [min, max]
    low, high = x.amin(dim=(1, 2, 3)), x.amax(dim=(1, 2, 3))
    assert (out.amin(dim=(1, 2, 3)) >= low - 1e-5).all() and (out.amax(dim=(1, 2, 3)) <= high + 1e-5).all()
    # the crop is kornia's per-batch p: the whole batch is 24x24 or the whole batch keeps 32x32
    sizes = [tuple(views(x[:4]).shape[-2:]) for _ in range(400)]
    assert set(sizes) == {(24, 24), (32, 32)}
    assert sizes.count((24, 24)) / 400 == pytest.approx(0.5, abs=0.1)


def test_fork_recipe_is_the_identity_when_no_op_fires():
    views = ForkViews(3, CPU)
    for op in views.ops:
        op.p = op.p_batch = 0.0
    x = torch.randn(16, 3, 32, 32) * 3 + 1
    assert torch.allclose(views(x), x, atol=1e-5)  # the per-sample rescale to [0, 1] and back


def test_grey_fork_recipe_and_the_encoder_on_24x24():
    views = make_views("fork", 1, (28, 28), CPU)
    assert [type(op) for op in views.ops] == [KA.RandomHorizontalFlip, KA.RandomCrop]
    encoder = ConvEncoder().freeze()
    assert encoder(torch.rand(2, 3, 24, 24)).shape == encoder(torch.rand(2, 3, 32, 32)).shape == (2, 1024)
    with pytest.raises(ValueError, match="unknown contrastive augmentation recipe"):
        make_views("simclr", 3, (32, 32), CPU)


def test_fork_recipe_run_completes_and_differs_from_the_default(tmp_path):
    """Two tasks of 10 iterations each (app.run, what launch.py runs for a job): task 2 replays, so it contrasts."""
    short = ["data.n_tasks=2", "trainer.iters=10", "trainer.log_every=5"]
    runs = {}
    for recipe in ("fork", "birsweep"):
        run_dir = tmp_path / recipe
        run(make_cfg([*CONV, *short, "variant=contrastive", f"variant.contrastive.augment={recipe}"]), str(run_dir))
        runs[recipe] = rec = record.load(run_dir)
        assert rec["status"] == "completed"
        later = [r for r in rec["losses"] if r["task"] > 1]
        assert later and all(r["contrastive"] > 0 for r in later)
    assert runs["fork"]["losses"] != runs["birsweep"]["losses"]


def test_an_unknown_recipe_is_refused_before_the_run():
    with pytest.raises(ConfigError, match="variant.contrastive.augment"):
        check_config(make_cfg(["variant=contrastive", "variant.contrastive.augment=simclr"]))


def test_the_fork_recipe_on_a_pixel_model_stops_with_one_line(tmp_path):
    overrides = ["variant=contrastive", "variant.contrastive.augment=fork", f"hydra.run.dir={tmp_path / 'run'}"]
    out = cli(*TINY, *overrides, cwd=tmp_path)
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.returncode == 2 and len(errors) == 1, out.stderr
    assert "variant.contrastive.augment=fork crops the images to 24x24" in errors[0] and "model=bir_conv" in errors[0]
    assert "Traceback" not in out.stderr and not (tmp_path / "run" / record.RESULTS).exists()


def test_host_reads_of_the_views():
    """Only kornia's colour-jitter decisions reach the host: its step order and one skip check per step."""
    from birsweep.train.step.host_reads import count_host_reads, total

    views, x = BirsweepViews(3, (32, 32), CPU), torch.rand(8, 3, 32, 32)
    views(x)
    with count_host_reads() as reads:
        views(x)
    assert total(reads) == 5, dict(reads)
