"""The BI-R network and the conv encoder: sizes from the spec, gates as buffers, exact fused pass, weight files."""

import collections

import pytest
import torch

from birsweep.errors import ConfigError
from birsweep.models.bir import BIRNet
from birsweep.models.encoder import ConvEncoder, load_encoder_weights


def n_params(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_cifar100_sizes_match_upstream():
    model = BIRNet(1024, 100)
    assert n_params(model) == 12_925_224  # as the original (docs/method.md, VAE and classifier)
    assert n_params(model.fcE) == 6_052_000 and n_params(model.classifier) == 200_100
    assert n_params(model.fromZ) + sum(n_params(m) for m in model.fcD) + n_params(model.out) == 202_000 + 6_051_024
    enc = ConvEncoder()
    assert n_params(enc) == 393_088 and len(enc.state_dict()) == 30
    assert enc(torch.zeros(2, 3, 32, 32)).shape == (2, 1024)
    assert enc(torch.zeros(2, 3, 24, 24)).shape == (2, 1024)  # 24x24 crops also give 256x2x2


def test_gate_masks_are_buffers_with_dg_prop_zeros():
    model = BIRNet(1024, 100, dg_prop=0.6, gate_seed=3)
    state = model.state_dict()
    assert "fromZ.mask" in state and "fcD.0.mask" in state and "out.mask" not in state
    zeros = 1 - state["fromZ.mask"].mean().item()
    assert abs(zeros - 0.6) < 0.01
    assert torch.equal(BIRNet(1024, 100, dg_prop=0.6, gate_seed=3).fromZ.mask, model.fromZ.mask)
    assert not torch.equal(BIRNet(1024, 100, dg_prop=0.6, gate_seed=4).fromZ.mask, model.fromZ.mask)


def test_one_hot_gate_selects_the_class_mask():
    model = BIRNet(20, 5, fc_units=30, h_dim=30, z_dim=4, dg_prop=0.5)
    z = torch.randn(1, 4)
    gate = torch.nn.functional.one_hot(torch.tensor([2]), 5).float()
    pre = model.fromZ.linear(z) * model.fromZ.mask[2]
    assert torch.allclose(model.fromZ(z, gate), pre)


def test_fused_pass_equals_separate_passes():
    torch.manual_seed(0)
    model = BIRNet(32, 6, fc_units=40, h_dim=40, z_dim=8)
    x1, x2 = torch.randn(5, 32), torch.randn(7, 32)
    g1 = torch.nn.functional.one_hot(torch.randint(0, 6, (5,)), 6).float()
    g2 = torch.softmax(torch.randn(7, 6), 1)
    z1, z2 = torch.randn(5, 8), torch.randn(7, 8)
    fused = model.decode(torch.cat([z1, z2]), torch.cat([g1, g2]))
    assert torch.allclose(fused, torch.cat([model.decode(z1, g1), model.decode(z2, g2)]), atol=1e-6)
    assert torch.allclose(
        model.classify(torch.cat([x1, x2])), torch.cat([model.classify(x1), model.classify(x2)]), atol=1e-6
    )


def test_generation_of_pixels_is_in_unit_interval_and_of_features_unbounded():
    pix = BIRNet(64, 10, fc_units=50, h_dim=50, z_dim=8, bce=True)
    x = pix.generate(torch.tensor([0, 3, 9]))
    assert x.shape == (3, 64) and x.min() >= 0 and x.max() <= 1
    feat = BIRNet(64, 10, fc_units=50, h_dim=50, z_dim=8, bce=False)
    assert feat.generate(torch.arange(10)).min() < 0


def test_encoder_loads_the_original_legacy_weight_format(tmp_path):
    src = ConvEncoder()
    for m in src.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_()
            m.num_batches_tracked.fill_(39000)
    path = tmp_path / "C3-5x16-bn"
    # upstream's file: a pre-1.6 (non-zip) torch.save of {'state': OrderedDict}
    torch.save({"state": collections.OrderedDict(src.state_dict())}, path, _use_new_zipfile_serialization=False)
    dst = ConvEncoder()
    load_encoder_weights(dst, str(path))
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_encoder_rejects_a_foreign_weight_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state": {"fc.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(ConfigError, match="does not fit C3-5x16-bn"):
        load_encoder_weights(ConvEncoder(), str(path))


def test_frozen_encoder_stays_in_eval_mode():
    enc = ConvEncoder().freeze()
    enc.train()
    assert not enc.training and not enc.convLayer1.bn.training
    before = enc.convLayer1.bn.running_mean.clone()
    enc(torch.randn(4, 3, 32, 32))
    # a train() call cannot move the frozen batch-norm (the fork's could)
    assert torch.equal(before, enc.convLayer1.bn.running_mean)


def test_build_encoder_loads_the_file_it_is_given_and_leaves_pre_training_to_the_caller(tmp_path):
    from omegaconf import OmegaConf

    from birsweep.models.encoder import build_encoder
    from birsweep.train.pretrain import encoder_weights

    cfg = OmegaConf.create({"depth": 5, "channels": 16, "weights": str(tmp_path / "w.pt")})
    src = ConvEncoder()
    torch.save({"state": src.state_dict()}, cfg.weights)
    # a weights file or 'random' is used as given: nothing is pre-trained
    assert encoder_weights(cfg, str(tmp_path / "cache"), "/no/data", False, torch.device("cpu")) == cfg.weights
    enc = build_encoder(cfg, cfg.weights, torch.device("cpu"))
    assert all(torch.equal(enc.state_dict()[k], v) for k, v in src.state_dict().items())
    assert not enc.training and not any(p.requires_grad for p in enc.parameters())
    with pytest.raises(ValueError, match="pre-trained weights file"):
        build_encoder(cfg, "pretrain", torch.device("cpu"))
