"""The BI-R objective is written once (birsweep/methods/bir_objective.py): the eager step and the batched step of
many trials compute it through the same function, hard targets and terms outside the replay loss included."""

from __future__ import annotations

from typing import Dict, List, Tuple

import pytest
import torch
from omegaconf import OmegaConf

from birsweep.methods import bir_losses as L
from birsweep.methods import bir_objective as O
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.terms import LossTerm, ReplayBatch
from birsweep.models.bir import BIRNet
from birsweep.train.batched.ops import BatchedStep, StepShape, stack_models
from birsweep.train.batched.terms import BatchedTerms
from birsweep.train.step.eager import TrainStep

D, C, Z, B, R, TEMP = 12, 4, 5, 6, 7, 2.0
TASK, N_ACTIVE, N_OLD = 2, 4, 2


class _Spread(LossTerm):
    """A stand-in term: the replayed rows' mean squared latent mean, counted over every replayed row."""

    def __init__(self, name: str, in_replay: bool, weight: float):
        self.name, self.in_replay, self.weight = name, in_replay, weight

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        return batch.out.mu.pow(2).mean(), torch.tensor(len(batch.x))


class _FixedReplay:
    batch_size = R

    def __init__(self, x: torch.Tensor, scores: torch.Tensor):
        self.x, self.scores = x, scores

    def sample(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.scores


def _terms() -> List[LossTerm]:
    return [_Spread("inside", True, 0.3), _Spread("outside", False, 0.7)]


def _both(hard: bool, terms: List[LossTerm]) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
    """One step's logged values (total included) from the eager step and from the batched step of one trial, on
    the same network, data, replay and latent noise."""
    torch.manual_seed(0)
    model = BIRNet(D, C, 2, 16, 16, Z)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(B, D, generator=gen), torch.randint(2, 4, (B,), generator=gen)
    x_r, scores = torch.rand(R, D, generator=gen), torch.randn(R, N_OLD, generator=gen)
    opt = torch.optim.Adam(model.parameters())
    si = SynapticIntelligence(model.si_parameters(), 0.0, 0.1)
    eager = TrainStep(model, opt, si, D, TEMP, terms, hard_targets=hard)
    torch.manual_seed(5)  # the latent noise of the fused pass
    total, logs = eager.losses(x, y, TASK, N_ACTIVE, _FixedReplay(x_r, scores), None)  # type: ignore[arg-type]
    eager_logs = {**{k: v.float() for k, v in logs.items()}, "total": total.detach()}
    torch.manual_seed(5)
    eps = torch.randn(B + R, Z)
    params, buffers = stack_models([model])
    batched = BatchedTerms(terms, [OmegaConf.create({})], torch.device("cpu"))
    shape = StepShape(TASK, N_ACTIVE, N_OLD, D, hard)
    total_k, logs_k = BatchedStep(model).losses(
        params, buffers, torch.tensor([TEMP]), x[None], y[None], eps[None], shape, (x_r[None], scores[None]), batched
    )
    batched_logs = {**{k: v[0] for k, v in logs_k.items()}, "total": total_k[0].detach()}
    return eager_logs, batched_logs


@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_the_batched_step_computes_the_eager_objective(hard):
    eager, batched = _both(hard, _terms())
    assert eager.keys() == batched.keys()
    assert ("pred_r" in eager) == hard and ("distil_r" in eager) != hard
    assert {"inside", "inside_n", "outside", "outside_n"} <= eager.keys()
    for key in eager:
        torch.testing.assert_close(batched[key], eager[key], rtol=1e-5, atol=1e-6, msg=key)


def test_a_term_outside_the_replay_loss_is_added_unweighted_by_the_task():
    eager, _ = _both(False, _terms())
    r = 1.0 / TASK
    current = eager["recon"] + eager["variat"] + eager["pred"]
    replayed = eager["recon_r"] + eager["variat_r"] + eager["distil_r"] + 0.3 * eager["inside"]
    torch.testing.assert_close(eager["total"], r * current + (1 - r) * replayed + 0.7 * eager["outside"])


def test_both_steps_call_the_one_objective(monkeypatch):
    """Change the objective and both paths change with it: neither keeps a copy of its own."""
    before_eager, before_batched = _both(False, _terms())
    original = O.objective

    def shifted(*args, **kwargs):
        total, logs = original(*args, **kwargs)
        return total + 1.0, {**logs, "loss": logs["loss"] + 1.0}

    monkeypatch.setattr(O, "objective", shifted)
    eager, batched = _both(False, _terms())
    for before, after in ((before_eager, eager), (before_batched, batched)):
        torch.testing.assert_close(after["total"], before["total"] + 1.0)
        torch.testing.assert_close(after["loss"], before["loss"] + 1.0)
        torch.testing.assert_close(after["recon"], before["recon"])


def test_mix_weighs_current_and_replay_by_the_tasks_seen():
    assert float(L.mix(torch.tensor(2.0), torch.tensor(6.0), 1)) == 2.0
    assert float(L.mix(torch.tensor(2.0), torch.tensor(6.0), 4)) == pytest.approx(0.25 * 2 + 0.75 * 6)
