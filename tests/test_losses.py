"""Each BI-R loss term and SI against a hand computation on small tensors."""

import math

import torch
from torch.nn import functional as F

from birsweep.methods import bir_losses as L
from birsweep.methods.si import SynapticIntelligence


def test_recon_mse_is_half_squared_error_per_unit():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    r = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    # sample 1: (1 + 4) / 2 units * 1/2 = 1.25; sample 2: (1 + 9)/2 * 1/2 = 2.5; mean 1.875
    assert math.isclose(L.recon_loss(x, r, bce=False).item(), 1.875, rel_tol=1e-6)


def test_recon_bce_on_logits_matches_sigmoid_bce():
    x = torch.tensor([[1.0, 0.0, 0.5]])
    logits = torch.tensor([[2.0, -1.0, 0.3]])
    p = torch.sigmoid(logits)
    hand = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean()
    assert math.isclose(L.recon_loss(x, logits, bce=True).item(), hand.item(), rel_tol=1e-6)


def _log_n(z, mu, logvar):
    return sum(-0.5 * (lv + (zz - m) ** 2 / math.exp(lv)) for zz, m, lv in zip(z, mu, logvar))


def test_variational_loss_hard_class_mode():
    z = torch.tensor([[0.5, -1.0]])
    mu, logvar = torch.tensor([[0.2, -0.5]]), torch.tensor([[0.1, -0.3]])
    pm = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    pl = torch.tensor([[0.0, 0.0], [0.5, 0.2]])
    hand = (_log_n([0.5, -1.0], [0.2, -0.5], [0.1, -0.3]) - _log_n([0.5, -1.0], [1.0, -1.0], [0.5, 0.2])) / 3072
    got = L.variational_loss(z, mu, logvar, pm, pl, 3072, y=torch.tensor([1]))
    assert math.isclose(got.item(), hand, rel_tol=1e-6)


def test_variational_loss_soft_mixture_prior():
    z = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    mu, logvar = torch.tensor([[0.2, -0.5], [1.0, 1.0]]), torch.tensor([[0.1, -0.3], [0.0, 0.0]])
    pm = torch.tensor([[0.0, 0.0], [1.0, -1.0], [3.0, 3.0]])
    pl = torch.tensor([[0.0, 0.0], [0.5, 0.2], [0.0, 0.0]])
    w = torch.tensor([[0.7, 0.3, 0.0], [0.1, 0.9, 0.0]])  # current-task class 2 has weight 0
    hand = 0.0
    for i in range(2):
        zi = z[i].tolist()
        log_q = _log_n(zi, mu[i].tolist(), logvar[i].tolist())
        mix = sum(w[i, k].item() * math.exp(_log_n(zi, pm[k].tolist(), pl[k].tolist())) for k in range(3))
        hand += (log_q - math.log(mix)) / 784
    got = L.variational_loss(z, mu, logvar, pm, pl, 784, weights=w)
    assert math.isclose(got.item(), hand / 2, rel_tol=1e-5)


def test_mixture_is_stable_far_from_every_mode():
    z = torch.full((1, 4), 1e3)
    got = L.variational_loss(
        z,
        torch.zeros(1, 4),
        torch.zeros(1, 4),
        torch.zeros(2, 4),
        torch.zeros(2, 4),
        1,
        weights=torch.tensor([[0.5, 0.5]]),
    )
    assert torch.isfinite(got)


def test_soft_targets_and_distillation():
    scores = torch.tensor([[2.0, 0.0]])
    pi = L.soft_targets(scores, 2.0, 4)
    e = math.exp(1.0)
    assert torch.allclose(pi, torch.tensor([[e / (e + 1), 1 / (e + 1), 0.0, 0.0]]))
    logits = torch.tensor([[1.0, 2.0, 0.5, -1.0]])
    logp = F.log_softmax(logits / 2.0, dim=1)[0]
    hand = 4.0 * -(pi[0, 0] * logp[0] + pi[0, 1] * logp[1])
    assert math.isclose(L.distillation_loss(logits, pi, 2.0).item(), hand.item(), rel_tol=1e-6)


def test_si_importance_and_penalty_by_hand():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    si = SynapticIntelligence([p], c=10.0, epsilon=0.1)
    si.begin_task()
    # two steps with known gradients and moves
    for grad, new in (([0.5, -1.0], [0.9, 2.1]), ([1.0, 0.0], [0.7, 2.1])):
        p.grad = torch.tensor(grad)
        with torch.no_grad():
            p.copy_(torch.tensor(new))
        si.after_step()
    # W = -sum g * delta: [-(0.5*-0.1) - (1.0*-0.2), -(-1.0*0.1) - 0] = [0.25, 0.1]
    assert torch.allclose(si.W[0], torch.tensor([0.25, 0.1]))
    si.end_task()
    # omega = W / ((theta - theta_tilde)^2 + eps) with total moves [-0.3, 0.1]
    omega = torch.tensor([0.25 / (0.09 + 0.1), 0.1 / (0.01 + 0.1)])
    assert torch.allclose(si.omega[0], omega)
    assert torch.allclose(si.anchor[0], torch.tensor([0.7, 2.1]))
    with torch.no_grad():
        p.copy_(torch.tensor([1.0, 2.0]))
    hand = (omega * torch.tensor([0.3, -0.1]) ** 2).sum()
    assert torch.allclose(si.penalty(), hand)
    # the penalty's gradient 2 c omega (theta - theta_tilde) is added to .grad, matching autograd
    p.grad = torch.zeros(2)
    si.add_penalty_grad()
    q = p.detach().clone().requires_grad_(True)
    (10.0 * (omega * (q - torch.tensor([0.7, 2.1])) ** 2).sum()).backward()
    assert torch.allclose(p.grad, q.grad)


def test_si_has_no_penalty_during_the_first_task():
    p = torch.nn.Parameter(torch.ones(3))
    si = SynapticIntelligence([p], c=1e8, epsilon=0.1)
    p.grad = torch.full((3,), 0.5)
    si.add_penalty_grad()
    assert torch.equal(p.grad, torch.full((3,), 0.5)) and si.penalty().item() == 0.0
