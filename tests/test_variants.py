"""The memory-exaggeration terms against hand computations, their gradients, edge cases and end-to-end runs."""

import math

import pytest
import torch
from torch.nn import functional as F

from birsweep.methods.competitors import select_competitors
from birsweep.methods.contrastive import hard_negative_loss, supcon_loss
from birsweep.methods.divergences import js_midpoint, kl_diag
from birsweep.methods.recon_terms import ReconAttraction, ReconRepulsion
from birsweep.methods.repulsion import DistributionRepulsion
from birsweep.methods.terms import ReplayBatch
from birsweep.methods.variants import build_terms
from birsweep.models.bir import BIRNet
from birsweep.tracking import record
from birsweep.train.loop.run import train
from tests.helpers import make_cfg


# --- divergences -------------------------------------------------------------------------------------------------
def _kl_hand(m1, v1, m2, v2):
    return sum(
        0.5 * (a / b + (mb - ma) ** 2 / b + math.log(b) - math.log(a) - 1) for ma, a, mb, b in zip(m1, v1, m2, v2)
    )


def test_kl_matches_hand_and_torch_distributions():
    m1, v1, m2, v2 = [0.3, -1.0], [0.5, 2.0], [1.0, 0.0], [1.5, 0.25]
    got = kl_diag(torch.tensor(m1), torch.tensor(v1).log(), torch.tensor(m2), torch.tensor(v2).log())
    assert math.isclose(got.item(), _kl_hand(m1, v1, m2, v2), rel_tol=1e-5)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(torch.tensor(m1), torch.tensor(v1).sqrt()),
        torch.distributions.Normal(torch.tensor(m2), torch.tensor(v2).sqrt()),
    )
    assert math.isclose(got.item(), ref.sum().item(), rel_tol=1e-5)


def test_js_is_the_forks_gaussian_midpoint_form():
    m1, v1, m2, v2 = [0.3, -1.0], [0.5, 2.0], [1.0, 0.0], [1.5, 0.25]
    mm = [(a + b) / 2 for a, b in zip(m1, m2)]
    vm = [(a + b) / 4 for a, b in zip(v1, v2)]
    hand = 0.5 * (_kl_hand(m1, v1, mm, vm) + _kl_hand(m2, v2, mm, vm))
    got = js_midpoint(torch.tensor(m1), torch.tensor(v1).log(), torch.tensor(m2), torch.tensor(v2).log())
    assert math.isclose(got.item(), hand, rel_tol=1e-5)
    far = js_midpoint(torch.zeros(1), torch.zeros(1), torch.full((1,), 50.0), torch.zeros(1))
    assert far.item() > math.log(2)  # not the true JS: unbounded


# --- competitor selection ----------------------------------------------------------------------------------------
SCORES = torch.tensor(
    [
        [5.0, 4.9, 0.0, 0.0],  # own 0, rival 1, confusable
        [0.0, 6.0, 1.0, 0.0],  # own 1, rival 2 (absent as a top-1)
        [4.0, 0.0, 0.0, 3.5],  # own 0, rival 3 (absent)
        [1.0, 8.0, 0.0, 0.0],  # own 1, rival 0, clear-cut
    ]
)


def test_competitors_representatives_and_absent_rivals():
    comp = select_competitors(SCORES, use_rep_f=False, rep_f=20.0)
    assert comp.own.tolist() == [0, 1, 0, 1] and comp.rival.tolist() == [1, 2, 3, 0]
    assert comp.counts.tolist() == [2, 2, 0, 0]
    assert comp.has_rival.tolist() == [True, False, False, True]  # samples 1 and 2 are dropped
    assert comp.representative[0].item() in (0, 2) and comp.representative[1].item() in (1, 3)
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 4.0]])
    assert torch.equal(comp.class_mean(x)[:2], torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    reps = {select_competitors(SCORES, False, 20.0).representative[0].item() for _ in range(50)}
    assert reps == {0, 2}  # redrawn at random each step


def test_repulsion_factor_mask():
    p = F.softmax(SCORES, 1)
    for f in (1.5, 20.0, 1e4):
        comp = select_competitors(SCORES, use_rep_f=True, rep_f=f)
        hand = [(p[i, comp.own[i]] < f * p[i, comp.rival[i]]).item() for i in range(4)]
        assert comp.confusable.tolist() == hand
    assert select_competitors(SCORES, True, 1.5).confusable.tolist() == [True, False, False, False]
    assert all(select_competitors(SCORES, True, 1e9).confusable.tolist())


# --- a small replay batch ----------------------------------------------------------------------------------------
def replay_batch(model, x, scores, n_active=None):
    n_active = n_active or scores.shape[1]
    pi = F.pad(F.softmax(scores / 2.0, 1), (0, n_active - scores.shape[1]))
    out = model(x, F.pad(pi, (0, model.n_classes - n_active)))
    return ReplayBatch(x, scores, pi, out, model, x[:0], torch.zeros(0, dtype=torch.long), None, n_active)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return BIRNet(6, 4, fc_units=16, h_dim=16, z_dim=3, dg_prop=0.0)


def test_repulsion_inverse_divergence_by_hand(model):
    x = torch.randn(4, 6)
    batch = replay_batch(model, x, SCORES)
    term = DistributionRepulsion(1.0, "kl", average=False, eps=0.5, use_rep_f=False, rep_f=20.0)
    value, count = term(batch)
    comp = batch.cache["competition-False-20.0"]
    mu, lv = batch.out.mu, batch.out.logvar
    hand = []
    for i in (0, 3):  # the samples whose rival is present
        j = comp.representative[comp.rival[i]].item()
        d = _kl_hand(mu[i].tolist(), lv[i].exp().tolist(), mu[j].tolist(), lv[j].exp().tolist())
        hand.append(1.0 / (d + 0.5))
    assert count.item() == 2 and math.isclose(value.item(), sum(hand) / 2, rel_tol=1e-4)


def test_repulsion_with_class_average(model):
    batch = replay_batch(model, torch.randn(4, 6), SCORES)
    value, count = DistributionRepulsion(1.0, "kl", True, 0.0, False, 20.0)(batch)
    mu, var = batch.out.mu, batch.out.logvar.exp()
    # rival of sample 0 is class 1 (samples 1, 3); of sample 3 class 0 (samples 0, 2)
    hand = 0.0
    for i, members in ((0, [1, 3]), (3, [0, 2])):
        m = mu[members].mean(0).tolist()
        v = (var[members].sum(0) / len(members) ** 2).tolist()
        hand += 1.0 / _kl_hand(mu[i].tolist(), var[i].tolist(), m, v)
    assert count.item() == 2 and math.isclose(value.item(), hand / 2, rel_tol=1e-4)


def test_recon_repulsion_and_attraction_by_hand(model):
    x = torch.randn(4, 6)
    batch = replay_batch(model, x, SCORES)
    rep_v, rep_n = ReconRepulsion(1.0, True, 0.1, False, 20.0)(batch)
    atr_v, atr_n = ReconAttraction(1.0, True, 0.1, False, 20.0)(batch)
    recon = batch.out.recon
    mean0, mean1 = x[[0, 2]].mean(0), x[[1, 3]].mean(0)
    e = lambda a, b: (0.5 * (a - b) ** 2).mean().item()  # noqa: E731
    hand_rep = (1 / (e(mean1, recon[0]) + 0.1) + 1 / (e(mean0, recon[3]) + 0.1)) / 2
    hand_atr = (e(mean0, recon[0]) + e(mean1, recon[1]) + e(mean0, recon[2]) + e(mean1, recon[3])) / 4
    assert rep_n.item() == 2 and math.isclose(rep_v.item(), hand_rep, rel_tol=1e-4)
    assert atr_n.item() == 4 and math.isclose(atr_v.item(), hand_atr, rel_tol=1e-4)


# --- gradients point the intended way ----------------------------------------------------------------------------
def _step_on(term, model, x, scores, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    torch.manual_seed(5)
    value, _ = term(replay_batch(model, x, scores))
    opt.zero_grad()
    (term.weight * value).backward()
    opt.step()


def test_repulsion_step_increases_the_divergence(model):
    x = torch.randn(4, 6)
    scores = torch.tensor([[5.0, 4.0], [4.0, 5.0], [5.0, 4.5], [4.5, 5.0]])
    term = DistributionRepulsion(1.0, "js", average=True, eps=1e-8, use_rep_f=False, rep_f=20.0)

    def divergence():
        with torch.no_grad():
            b = replay_batch(model, x, scores)
            return js_midpoint(
                b.out.mu[[0, 2]].mean(0),
                b.out.logvar[[0, 2]].exp().mean(0).log(),
                b.out.mu[[1, 3]].mean(0),
                b.out.logvar[[1, 3]].exp().mean(0).log(),
            ).item()

    before = divergence()
    for _ in range(5):
        _step_on(term, model, x, scores, lr=0.05)
    assert divergence() > before


def test_attraction_step_decreases_the_distance(model):
    x = torch.randn(4, 6)
    scores = torch.tensor([[5.0, 4.0], [4.0, 5.0], [5.0, 4.5], [4.5, 5.0]])
    term = ReconAttraction(1.0, True, 1e-8, False, 20.0)

    def distance():
        torch.manual_seed(5)
        with torch.no_grad():
            return term(replay_batch(model, x, scores))[0].item()

    before = distance()
    _step_on(term, model, x, scores, lr=0.05)
    assert distance() < before


# --- edge cases --------------------------------------------------------------------------------------------------
def all_terms():
    return [
        DistributionRepulsion(1.0, "js", False, 1e-8, True, 2.0),
        DistributionRepulsion(1.0, "kl", True, 1e-8, False, 20.0),
        ReconRepulsion(1.0, False, 1e-8, True, 2.0),
        ReconRepulsion(1.0, True, 1e-8, False, 20.0),
    ]


def test_single_class_batch_has_no_competitor(model):
    scores = torch.tensor([[5.0, 1.0, 0.0]] * 4)  # every sample's top-1 is class 0
    for term in all_terms():
        value, count = term(replay_batch(model, torch.randn(4, 6), scores))
        assert count.item() == 0 and value.item() == 0.0
    one_old_class = torch.ones(4, 1)
    for term in all_terms():
        value, count = term(replay_batch(model, torch.randn(4, 6), one_old_class, n_active=2))
        assert count.item() == 0 and value.item() == 0.0
    value, count = ReconAttraction(1.0, False, 1e-8, False, 20.0)(
        replay_batch(model, torch.randn(4, 6), one_old_class, n_active=2)
    )
    assert count.item() == 4 and value.item() > 0  # attraction needs no competitor


def test_no_confusable_and_all_confusable(model):
    clear = torch.tensor([[9.0, 0.0], [0.0, 9.0], [9.0, 0.0], [0.0, 9.0]])
    term = DistributionRepulsion(1.0, "js", False, 1e-8, use_rep_f=True, rep_f=20.0)
    value, count = term(replay_batch(model, torch.randn(4, 6), clear))
    assert count.item() == 0 and value.item() == 0.0
    close = torch.tensor([[1.0, 0.9], [0.9, 1.0], [1.0, 0.8], [0.8, 1.0]])
    value, count = term(replay_batch(model, torch.randn(4, 6), close))
    assert count.item() == 4 and value.item() > 0


def test_nan_guard_skips_non_finite_samples(model):
    batch = replay_batch(model, torch.randn(4, 6), SCORES)
    batch.out.mu = batch.out.mu.clone()
    batch.out.mu[3] = float("nan")  # sample 3, and sample 0 if 3 represents its rival class
    value, count = DistributionRepulsion(1.0, "kl", False, 1e-8, False, 20.0)(batch)
    assert torch.isfinite(value) and count.item() <= 1


def test_extreme_posteriors_give_finite_values_and_gradients(model):
    batch = replay_batch(model, torch.randn(4, 6), SCORES)
    batch.out.logvar = batch.out.logvar + torch.tensor([[200.0], [0.0], [0.0], [-200.0]])
    for divergence in ("kl", "js"):
        model.zero_grad()
        value, count = DistributionRepulsion(1.0, divergence, False, 1e-8, False, 20.0)(batch)
        assert torch.isfinite(value) and count.item() == 2
        value.backward(retain_graph=True)
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# --- SupCon ------------------------------------------------------------------------------------------------------
def _supcon_loop(f, w, t, bt):
    n, total, anchors = len(f), 0.0, 0
    for i in range(n):
        denom = sum(math.exp(f[i] @ f[k] / t) for k in range(n) if k != i)
        ws = sum(w[i][j] for j in range(n) if j != i)
        if ws <= 0:
            continue
        total += -(t / bt) * sum(w[i][j] * (f[i] @ f[j] / t - math.log(denom)) for j in range(n) if j != i) / ws
        anchors += 1
    return total / anchors, anchors


def test_supcon_hard_positives_by_hand():
    torch.manual_seed(2)
    f = F.normalize(torch.randn(6, 4), dim=1)
    labels = torch.tensor([0, 1, 0, 1, 2, 2])
    w = (labels[:, None] == labels[None, :]).float()
    got, n = supcon_loss(f, w, 0.5, 0.07)
    hand, anchors = _supcon_loop(f.double(), w.tolist(), 0.5, 0.07)
    assert n.item() == anchors == 6 and math.isclose(got.item(), hand, rel_tol=1e-4)


def test_supcon_soft_positives_by_hand():
    torch.manual_seed(3)
    f = F.normalize(torch.randn(5, 4), dim=1)
    p = torch.softmax(torch.randn(5, 3), 1)
    got, n = supcon_loss(f, p @ p.t(), 1.0, 0.07)
    hand, anchors = _supcon_loop(f.double(), (p @ p.t()).tolist(), 1.0, 0.07)
    assert n.item() == 5 and math.isclose(got.item(), hand, rel_tol=1e-4)


def test_supcon_skips_anchors_without_positives():
    f = F.normalize(torch.randn(3, 4), dim=1)
    got, n = supcon_loss(f, torch.eye(3), 1.0, 0.07)  # only self-similarity: no positive at all
    assert n.item() == 0 and got.item() == 0.0


def test_hard_negative_loss_matches_robinsons_formula():
    torch.manual_seed(4)
    f = F.normalize(torch.randn(6, 4), dim=1).double()
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    pos = labels[:, None] == labels[None, :]
    t, beta, tau = 0.5, 1.0, 0.1
    got, n = hard_negative_loss(f.float(), pos, t, 0.07, beta, tau)
    total = 0.0
    for i in range(6):
        negs = [k for k in range(6) if labels[k] != labels[i]]
        neg = [math.exp(f[i] @ f[k] / t) for k in negs]
        imp = [v**beta for v in neg]
        reweight = sum(a * b for a, b in zip(imp, neg)) / (sum(imp) / len(neg))
        losses = []
        for j in [k for k in range(6) if labels[k] == labels[i] and k != i]:
            pos_ij = math.exp(f[i] @ f[j] / t)
            ng = max((-tau * len(neg) * pos_ij + reweight) / (1 - tau), len(neg) * math.exp(-1 / t))
            losses.append(-math.log(pos_ij / (pos_ij + ng)))
        total += sum(losses) / len(losses) * (t / 0.07)
    assert n.item() == 6 and math.isclose(got.item(), total / 6, rel_tol=1e-4)


# --- wiring ------------------------------------------------------------------------------------------------------
def test_disabled_terms_are_not_built():
    assert build_terms(make_cfg(["variant=baseline"]).variant, None, None) == []
    names = [
        t.name for t in build_terms(make_cfg(["variant=recon", "variant.repulsion.enabled=true"]).variant, None, None)
    ]
    assert names == ["repulsion", "recon_rep", "recon_atr"]


@pytest.mark.parametrize(
    "variant, keys",
    [
        ("repulsion", ["repulsion"]),
        ("recon", ["recon_rep", "recon_atr"]),
        ("contrastive", ["contrastive"]),
    ],
)
def test_each_variant_runs_the_demo_and_logs_its_terms(tmp_path, variant, keys):
    short = ["trainer.max_tasks=2", "trainer.iters=20", "trainer.log_every=10"]  # task 2 replays: the terms act
    overrides = ["experiment=demo", f"variant={variant}", *short]
    train(make_cfg([*overrides, "trainer.progress=false", "logger=none"]), str(tmp_path))
    rec = record.load(tmp_path)
    assert rec["status"] == "completed" and rec["config"]["variant"]["name"] == variant
    for row in rec["losses"]:
        for key in keys:
            if row["task"] == 1:
                assert key not in row  # no replay, no term
            else:
                assert row[key] > 0 and row[key + "_n"] > 0, (key, row)


def test_a_zero_distance_of_an_excluded_sample_keeps_the_gradient_finite(model):
    """One old class: every sample's 'competitor' is its own class, D = 0 there; excluded, and no NaN leaks."""
    one_old_class = torch.ones(4, 1)
    for term in (
        DistributionRepulsion(1.0, "kl", False, 1e-12, False, 20.0),
        ReconRepulsion(1.0, False, 1e-12, False, 20.0),
    ):
        model.zero_grad()
        value, count = term(replay_batch(model, torch.randn(4, 6), one_old_class, n_active=2))
        value.backward()
        assert count.item() == 0 and value.item() == 0.0
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_pixel_models_contrast_unit_pixels_even_on_cifar():
    from birsweep.data.arrays import ArrayData
    from birsweep.data.features import build_inputs

    x = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    arrays = ArrayData("cifar10", x, torch.arange(10), x, torch.arange(10), 10, 255.0, (0.5,) * 3, (0.25,) * 3)
    inputs = build_inputs(arrays, None, True, False, torch.device("cpu"), "/nonexistent", keep_images=True)
    idx = torch.arange(10)
    views = inputs.encode(inputs.normalise(inputs.unit_images(idx)))
    assert torch.equal(views, inputs.train[idx]) and inputs.train.max() <= 1.0


def test_the_terms_draw_from_their_own_generator_not_the_global_rng():
    from birsweep.methods.term_noise import TermNoise, noise_for

    noise = TermNoise(3, torch.device("cpu"))
    torch.manual_seed(0)
    before = torch.get_rng_state()
    first = noise.keys(8)
    assert torch.equal(torch.get_rng_state(), before)  # the global stream did not move
    state = noise.state_dict()
    second = noise.keys(8)
    noise.load_state_dict(state)
    assert torch.equal(noise.keys(8), second) and not torch.equal(first, second)  # a checkpoint's state resumes
    assert torch.equal(TermNoise(3, torch.device("cpu")).keys(8), first)  # the seed alone decides the stream
    assert not torch.equal(TermNoise(4, torch.device("cpu")).keys(8), first)
    torch.manual_seed(3)
    assert not torch.equal(torch.rand(8), first)  # not the global RNG's stream for the same seed
    assert noise_for([], 3, torch.device("cpu")) is None
    # the keys pick the representative: the member with the largest key
    keys = torch.tensor([0.1, 0.9, 0.5, 0.2])
    assert select_competitors(SCORES, False, 20.0, keys).representative.tolist()[:2] == [2, 1]


def test_every_per_trial_value_of_a_term_is_a_per_trial_key_of_the_batched_job():
    from birsweep.methods.recon_terms import ReconAttraction, ReconRepulsion
    from birsweep.methods.repulsion import DistributionRepulsion
    from birsweep.train.batched.keys import PER_TRIAL_KEYS

    for term in (DistributionRepulsion, ReconRepulsion, ReconAttraction):
        assert term.per_trial and set(term.per_trial.values()) <= set(PER_TRIAL_KEYS), term.name
