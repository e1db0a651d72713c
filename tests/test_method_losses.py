"""Each method's loss against a hand computation on tiny tensors (docs/method.md, Methods)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from birsweep.methods.ewc import OfflineEWC, fisher_diagonal
from birsweep.methods.gr import generator_loss, hard_target_loss, standard_kl
from birsweep.methods.joint import seen_indices
from birsweep.methods.lwf import CurrentInputReplay, lwf_loss
from birsweep.methods.si import SynapticIntelligence
from birsweep.models.classifier import Classifier
from birsweep.train.step.classifier import ClassifierStep


def _softmax(v):
    e = [math.exp(a) for a in v]
    return [a / sum(e) for a in e]


def test_fisher_is_the_expected_squared_gradient_of_a_linear_softmax_model():
    torch.manual_seed(0)
    model = nn.Linear(3, 4)  # logits = W x + b; we keep 3 active classes of 4
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])
    fisher = fisher_diagonal(model, x, n_active=3)
    W, b = model.weight.detach(), model.bias.detach()
    want_W, want_b = torch.zeros_like(W), torch.zeros_like(b)
    for xi in x:
        p = _softmax((W[:3] @ xi + b[:3]).tolist())
        for c in range(3):
            # d(-log p_c)/d logit_k = p_k - [k == c]; d logit_k / dW_kj = x_j; inactive rows get no gradient
            g = [p[k] - (k == c) for k in range(3)]
            for k in range(3):
                want_b[k] += p[c] * g[k] ** 2 / len(x)
                for j in range(3):
                    want_W[k, j] += p[c] * (g[k] * xi[j].item()) ** 2 / len(x)
    assert torch.allclose(fisher["weight"], want_W, atol=1e-6)
    assert torch.allclose(fisher["bias"], want_b, atol=1e-6)
    assert float(fisher["weight"][3].abs().sum()) == 0.0 and model.training


def test_offline_ewc_keeps_one_term_per_task():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    ewc = OfflineEWC({"p": p}, lamda=10.0)
    assert not ewc.active and float(ewc.penalty()) == 0.0
    ewc.consolidate({"p": torch.tensor([0.5, 1.0])})  # anchor (1, 2)
    with torch.no_grad():
        p.copy_(torch.tensor([2.0, 0.0]))
    ewc.consolidate({"p": torch.tensor([3.0, 0.0])})  # anchor (2, 0)
    with torch.no_grad():
        p.copy_(torch.tensor([3.0, 1.0]))
    # 1/2 [0.5 (3-1)^2 + 1 (1-2)^2] + 1/2 [3 (3-2)^2 + 0] = 1/2 (2 + 1) + 1.5 = 3
    assert ewc.active and float(ewc.penalty().detach()) == pytest.approx(3.0)
    (ewc.lamda * ewc.penalty()).backward()
    # d/dp = lambda * sum_k F_k (p - a_k) = 10 * (0.5*2 + 3*1, 1*(-1) + 0) = (40, -10)
    assert p.grad.tolist() == pytest.approx([40.0, -10.0])
    restored = OfflineEWC({"p": p}, lamda=10.0)
    restored.load_state_dict(ewc.state_dict())
    assert float(restored.penalty().detach()) == pytest.approx(3.0)


def test_lwf_distils_the_previous_models_old_classes_into_the_active_ones():
    logits = torch.tensor([[1.0, 0.0, -1.0]])  # 3 active classes
    prev = torch.tensor([[2.0, 0.0]])  # 2 old classes
    T = 2.0
    pi = _softmax([2.0 / T, 0.0]) + [0.0]
    q = _softmax([v / T for v in [1.0, 0.0, -1.0]])
    want = T**2 * -sum(a * math.log(b) for a, b in zip(pi, q))
    assert float(lwf_loss(logits, prev, T)) == pytest.approx(want, rel=1e-6)


def test_lwf_replays_the_current_inputs_labelled_by_the_previous_model():
    prev = nn.Linear(2, 3)
    prev.classify = prev.forward  # type: ignore[assignment]
    x = torch.randn(5, 2)
    x_r, scores = CurrentInputReplay(prev, n_old=2, batch_size=3).sample(x)
    assert torch.equal(x_r, x[:3]) and torch.allclose(scores, prev(x[:3])[:, :2])


def test_gr_replay_loss_is_cross_entropy_against_the_previous_argmax():
    logits = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0]])
    prev = torch.tensor([[0.1, 0.9], [3.0, -1.0]])  # argmax: class 1, class 0
    want = (-math.log(_softmax([0.0, 1.0, 2.0])[1]) - math.log(_softmax([1.0, 1.0, 0.0])[0])) / 2
    assert float(hard_target_loss(logits, prev)) == pytest.approx(want, rel=1e-6)


def test_gr_generator_loss_is_per_unit_reconstruction_plus_kl_per_pixel():
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    # KL(N(mu, s^2) || N(0, 1)) = 1/2 sum(s^2 + mu^2 - 1 - log s^2) = 1/2 (1 + 1 - 1 - 0 + 4 + 0 - 1 - log 4)
    kl = 0.5 * (1 + 1 - 1 - 0 + 4 + 0 - 1 - math.log(4.0))
    assert float(standard_kl(mu, logvar)[0]) == pytest.approx(kl)
    x, recon = torch.tensor([[1.0, 3.0]]), torch.tensor([[0.0, 1.0]])
    rec, kl_px = generator_loss(x, recon, mu, logvar, bce=False, n_pixels=4)
    assert float(rec) == pytest.approx((0.5 * 1 + 0.5 * 4) / 2) and float(kl_px) == pytest.approx(kl / 4)


def test_joint_draws_from_every_task_seen_so_far():
    idx = [torch.tensor([0, 1]), torch.tensor([5, 6]), torch.tensor([9])]
    assert seen_indices(idx, 0).tolist() == [0, 1]
    assert seen_indices(idx, 2).tolist() == [0, 1, 5, 6, 9]


def _step(targets: str):
    torch.manual_seed(0)
    model = Classifier(4, 6, fc_layers=2, fc_units=5, h_dim=5)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the logged values are the initial model's
    return model, ClassifierStep(model, opt, SynapticIntelligence(model.si_parameters(), 0.0, 0.1), None, targets, 2.0)


def test_classifier_step_weighs_current_and_lwf_replay_by_one_over_t():
    model, step = _step("soft")
    prev = Classifier(4, 6, fc_layers=2, fc_units=5, h_dim=5)
    x, y = torch.randn(3, 4), torch.tensor([4, 5, 4])
    logs = step(x, y, task=3, n_active=6, replay=CurrentInputReplay(prev, n_old=4, batch_size=2))
    with torch.no_grad():
        logits = model(x)
        cur = torch.nn.functional.cross_entropy(logits, y)
        rep = lwf_loss(logits[:2], prev(x[:2])[:, :4], 2.0)
    assert float(logs["pred"]) == pytest.approx(float(cur)) and float(logs["distil_r"]) == pytest.approx(float(rep))
    assert float(logs["loss"]) == pytest.approx(float(cur / 3 + rep * 2 / 3))


def test_classifier_step_trains_gr_on_hard_targets_of_the_replayed_batch():
    model, step = _step("hard")
    x_r, scores = torch.randn(2, 4), torch.tensor([[0.0, 2.0], [1.0, 0.0]])

    class Fixed:
        def sample(self, current):
            return x_r, scores

    x, y = torch.randn(3, 4), torch.tensor([2, 3, 3])
    logs = step(x, y, task=2, n_active=4, replay=Fixed())
    with torch.no_grad():
        cur = torch.nn.functional.cross_entropy(model(x)[:, :4], y)
        rep = torch.nn.functional.cross_entropy(model(x_r)[:, :4], torch.tensor([1, 0]))
    assert float(logs["pred_r"]) == pytest.approx(float(rep))
    assert float(logs["loss"]) == pytest.approx(float(cur / 2 + rep / 2))
