"""The generator evaluation's estimators against hand computations: importance-sampled log-likelihood, reconstruction
error, inception score, Frechet distance and precision-recall (birsweep/gen_eval/)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal

from birsweep.gen_eval.loglik import log_likelihood, recon_error
from birsweep.gen_eval.prd import prd_curve, prd_from_embeddings
from birsweep.gen_eval.scores import frechet_distance, inception_score
from birsweep.gen_eval.views import bir_view, vae_view
from birsweep.models.bir import BIRNet
from birsweep.models.vae import VAEGenerator


def _net(bce: bool) -> BIRNet:
    torch.manual_seed(0)
    return BIRNet(6, 3, fc_layers=3, fc_units=8, h_dim=8, z_dim=4, dg_prop=0.3, bce=bce, gate_seed=1).eval()


def _data(bce: bool, n: int = 5):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(n, 6, generator=g) if bce else torch.randn(n, 6, generator=g)
    return x, torch.randint(0, 3, (n,), generator=g)


def _loop_ll(model: BIRNet, x, y, eps) -> torch.Tensor:
    """One test sample and one importance sample at a time, every density from torch.distributions."""
    out = []
    for i in range(len(x)):
        _, mu, logvar = model.encode(x[i : i + 1])
        mu, sd = mu[0], torch.exp(0.5 * logvar[0])
        c = int(y[i])
        gate = torch.nn.functional.one_hot(y[i : i + 1], 3).float()
        terms = []
        for s in range(eps.shape[1]):
            z = mu + sd * eps[i, s]
            log_q = Normal(mu, sd).log_prob(z).sum()
            log_p = Normal(model.prior_mu[c], torch.exp(0.5 * model.prior_logvar[c])).log_prob(z).sum()
            recon = model.decode(z[None], gate)[0]
            if model.bce:
                log_x = Bernoulli(logits=recon, validate_args=False).log_prob(x[i]).sum()
            else:  # upstream leaves out the observation model's -D/2 log 2 pi: add it back to compare
                log_x = Normal(recon, 1.0).log_prob(x[i]).sum() + 0.5 * x.shape[1] * math.log(2 * math.pi)
            terms.append(log_x + log_p - log_q)
        out.append(torch.logsumexp(torch.stack(terms), 0) - math.log(eps.shape[1]))
    return torch.stack(out)


@pytest.mark.parametrize("bce", [False, True])
@torch.no_grad()
def test_batched_log_likelihood_equals_a_per_sample_loop(bce):
    model = _net(bce)
    x, y = _data(bce)
    eps = torch.randn(len(x), 7, 4, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator()
    batched = log_likelihood(bir_view(model), x, y, 7, gen, noise=eps)
    small_passes = log_likelihood(bir_view(model), x, y, 7, gen, rows_per_pass=7, noise=eps)  # one sample a pass
    expected = _loop_ll(model, x, y, eps)
    assert torch.allclose(batched, expected, atol=1e-4), (batched, expected)
    assert torch.allclose(small_passes, batched, atol=1e-5)
    assert batched.shape == (5,) and bool(torch.isfinite(batched).all())


@torch.no_grad()
def test_images_are_scored_over_every_value_as_flat_rows():
    """A network that takes and decodes images (method.internal=false, the s-GR family on CIFAR): the estimators
    see each image's 3x32x32 values as its units, the same as the flattened image through a flattening network."""
    from birsweep.models.deconv import DeconvDecoder
    from birsweep.models.encoder import ConvEncoder

    torch.manual_seed(0)
    conv, deconv = ConvEncoder().eval(), DeconvDecoder((3, 32, 32)).eval()
    model = BIRNet(1024, 3, fc_layers=3, fc_units=8, h_dim=8, z_dim=4, dg_prop=0.3, conv=conv, deconv=deconv).eval()
    x, y = torch.randn(3, 3, 32, 32), torch.tensor([0, 2, 1])
    flat = bir_view(model)
    flat_view = type(flat)(
        lambda v: flat.encode(v.reshape(-1, 3, 32, 32)),
        flat.prior,
        lambda z, c: flat.decode(z, c).flatten(1),
        flat.bce,
        flat.z_dim,
    )
    eps = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(5))
    images = log_likelihood(flat, x, y, 5, torch.Generator(), noise=eps)
    rows = log_likelihood(flat_view, x.flatten(1), y, 5, torch.Generator(), noise=eps)
    torch.testing.assert_close(images, rows)
    mu, _ = flat.encode(x)
    by_hand = 0.5 * ((x - flat.decode(mu, y)) ** 2).flatten(1).mean(1)  # 1/2 squared error per unit
    torch.testing.assert_close(recon_error(flat, x, y), by_hand)
    torch.testing.assert_close(recon_error(flat_view, x.flatten(1), y), by_hand)


@torch.no_grad()
def test_the_noise_comes_from_the_private_generator_only():
    model = _net(False)
    x, y = _data(False)
    torch.manual_seed(11)
    state = torch.get_rng_state()
    a = log_likelihood(bir_view(model), x, y, 20, torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state), "the global RNG was used"
    b = log_likelihood(bir_view(model), x, y, 20, torch.Generator().manual_seed(1))
    c = log_likelihood(bir_view(model), x, y, 20, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


@torch.no_grad()
def test_a_linear_gaussian_model_gets_its_exact_marginal_likelihood():
    """A decoder x = W z + b with p(z) = N(0, I) and q(z|x) the exact posterior: every importance weight is p(x)."""
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(3, 2))
    W, b = q * torch.tensor([1.5, 0.5]), torch.randn(3)  # orthogonal columns: the exact posterior is diagonal
    cov = W @ W.T + torch.eye(3)  # x ~ N(b, W W^T + I)
    post_cov = torch.linalg.inv(torch.eye(2) + W.T @ W)
    view = vae_view(VAEGenerator(3, fc_layers=2, fc_units=4, h_dim=4, z_dim=2, bce=False))  # standard normal prior
    view.decode = lambda z, y: z @ W.T + b
    view.encode = lambda x: ((x - b) @ W @ post_cov, torch.log(torch.diagonal(post_cov)).expand(len(x), 2))
    x = torch.randn(4, 3)
    ll = log_likelihood(view, x, torch.zeros(4, dtype=torch.long), 50, torch.Generator().manual_seed(0))
    exact = torch.distributions.MultivariateNormal(b, cov).log_prob(x) + 1.5 * math.log(2 * math.pi)
    assert torch.allclose(ll, exact, atol=1e-4), (ll, exact)


@pytest.mark.parametrize("bce", [False, True])
@torch.no_grad()
def test_recon_error_by_hand(bce):
    model = _net(bce)
    x, y = _data(bce)
    got = recon_error(bir_view(model), x, y, batch=2)
    _, mu, _ = model.encode(x)
    r = model.decode(mu, torch.nn.functional.one_hot(y, 3).float())
    if bce:
        p = torch.sigmoid(r)
        hand = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean(1)
    else:
        hand = (0.5 * (x - r) ** 2).mean(1)
    assert torch.allclose(got, hand, atol=1e-5)


def test_inception_score_of_known_predictions():
    confident = np.eye(4)[np.arange(400) % 4]  # sure of each class, every class equally often
    assert inception_score(confident) == pytest.approx(4.0)
    assert inception_score(np.full((10, 4), 0.25)) == pytest.approx(1.0)  # unsure: nothing learnt
    assert inception_score(np.tile([[0.0, 1.0, 0.0]], (5, 1))) == pytest.approx(1.0)  # one class only


def test_frechet_distance_of_known_distributions():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 5))
    assert abs(frechet_distance(a, a)) < 1e-6
    # b = 2a + 1: mean 2 m_a + 1, covariance 4 C_a, so (C_a C_b)^1/2 = 2 C_a and FID = |m_a + 1|^2 + tr(C_a)
    b = 2 * a + 1
    expected = np.sum((a.mean(0) + 1) ** 2) + np.trace(np.cov(a, rowvar=False))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_survives_singular_covariances():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.normal(size=(50, 2)), np.zeros((50, 1))], axis=1)  # a rank-deficient covariance
    value = frechet_distance(a, a + 0.5)
    assert math.isfinite(value) and value == pytest.approx(0.75, abs=1e-3)


def test_prd_curve_of_identical_and_disjoint_histograms():
    p = np.array([0.2, 0.3, 0.5])
    precision, recall = prd_curve(p, p)
    assert precision.max() == pytest.approx(1.0, abs=1e-6) and recall.max() == pytest.approx(1.0, abs=1e-6)
    precision, recall = prd_curve(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert precision.max() < 1e-6 and recall.max() < 1e-6
    assert len(precision) == 1001


def test_prd_from_embeddings_on_identical_and_separate_sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4))
    precision, recall = prd_from_embeddings(real.copy(), real, num_runs=2)
    assert precision.max() > 0.99 and recall.max() > 0.99
    precision, recall = prd_from_embeddings(real + 50.0, real, num_runs=1)  # nothing in common
    assert precision.max() < 0.05 and recall.max() < 0.05
    with pytest.raises(ValueError, match="as many generated as real"):
        prd_from_embeddings(real[:10], real)
