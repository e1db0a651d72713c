"""The host-read counter, and the step's host reads kept to the one-hot range checks (docs/method.md, Compilation)."""

from __future__ import annotations

import torch

from birsweep.methods.replay import GenerativeReplay, frozen_copy
from birsweep.methods.si import SynapticIntelligence
from birsweep.models.bir import BIRNet
from birsweep.train.step.eager import TrainStep
from birsweep.train.step.host_reads import count_host_reads, total


def test_the_counter_sees_each_kind_of_read():
    t = torch.arange(4.0)
    with count_host_reads() as counts:
        t.sum().item()
        bool(t.any())
        t.tolist()
        t.nonzero()
    assert counts["Tensor.item"] == 1 and counts["Tensor.__bool__"] == 1 and counts["Tensor.tolist"] == 1
    assert counts["aten._local_scalar_dense"] == 2 and counts["aten.nonzero"] == 1
    assert total(counts) == 4
    with count_host_reads() as none:
        (t * 2 + 1).exp().sum()
    assert total(none) == 0


def test_a_replay_step_reads_only_the_one_hot_range_checks():
    """Tasks 2+ (replay, SI penalty): two F.one_hot calls (current labels, replayed classes), whose range checks
    read min and max on a CPU; nothing else reaches the host."""
    torch.manual_seed(0)
    model = BIRNet(16, 6, 3, 32, 32, 8)
    si = SynapticIntelligence(model.si_parameters(), 1.0, 0.1)
    si.end_task()
    step = TrainStep(model, torch.optim.Adam(model.parameters(), fused=True), si, 16, 2.0)
    replay = GenerativeReplay(frozen_copy(model), 2, 8)
    x, y = torch.randn(8, 16), torch.randint(2, 4, (8,))
    step(x, y, 2, 4, replay, torch.arange(8))
    with count_host_reads() as counts:
        step(x, y, 2, 4, replay, torch.arange(8))
    assert dict(counts) == {"aten._local_scalar_dense": 4}, dict(counts)
