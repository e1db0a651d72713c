"""trainer.compile=step: the whole training step as one graph (birsweep/train/step/compiled.py)."""

from __future__ import annotations

import copy
import json
import logging
import math
from typing import Dict, List, Optional, Tuple

import pytest
import torch
import torch._dynamo

from birsweep.config_check import check_config
from birsweep.errors import ConfigError
from birsweep.methods.contrastive import SupervisedContrastive
from birsweep.methods.replay import GenerativeReplay, frozen_copy
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.terms import LossTerm, ReplayBatch
from birsweep.methods.variants import build_terms
from birsweep.models.bir import BIRNet
from birsweep.tracking import record
from birsweep.train.step.compiled import compile_mode
from birsweep.train.step.eager import TrainStep
from tests.helpers import TINY, cli, make_cfg
from tests.reference_runs import _BASE as REFERENCE_BASE
from tests.reference_runs import CONFIGS, GOLDEN

GRAPH_VARIANTS = ("baseline", "repulsion", "recon")
N, D, C, B = 120, 24, 6, 16  # samples, feature size, classes (3 tasks of 2), batch


ALL_TERMS = ["variant=recon", "variant.repulsion.enabled=true"]  # recon repulsion + attraction, and repulsion


def _step(overrides: List[str], mode: str) -> TrainStep:
    torch.manual_seed(0)
    model = BIRNet(D, C, 3, 48, 48, 8)
    terms = build_terms(make_cfg(TINY + overrides).variant, model, None)  # type: ignore[arg-type]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    si = SynapticIntelligence(model.si_parameters(), 1e3, 0.1)
    return TrainStep(model, opt, si, D, 2.0, terms, "32", mode)


def _train(step: TrainStep, tasks: int, iters: int, first: int = 1) -> List[Dict[str, torch.Tensor]]:
    """Tasks ``first``..``tasks`` of ``iters`` steps on fixed data, with replay from task 2 on, as the run does
    (starting at task 2, the replayed model is the untrained one, with SI's importance after a task)."""
    gen = torch.Generator().manual_seed(7)
    x, y = torch.randn(N, D, generator=gen), torch.randint(0, 2, (N,), generator=gen)
    logs: List[Dict[str, torch.Tensor]] = []
    previous: Optional[BIRNet] = None
    if first > 1:
        step.si.end_task()
        previous = frozen_copy(step.model)
    for task in range(first, tasks + 1):
        replay = GenerativeReplay(previous, 2 * (task - 1), B) if previous is not None else None
        step.si.begin_task()
        torch.manual_seed(100 + task)
        for _ in range(iters):
            idx = torch.randint(0, N, (B,))
            logs.append(step(x[idx], y[idx] + 2 * (task - 1), task, 2 * task, replay, idx))
        step.si.end_task()
        previous = frozen_copy(step.model)
    return logs


def _compare(
    overrides: List[str], inner: str, tasks: int, iters: int, first: int = 1
) -> Tuple[float, float, TrainStep]:
    eager, compiled = _step(overrides, "off"), _step(overrides, "step")
    assert compiled.whole is not None
    compiled.whole.inner = inner
    with torch._inductor.config.patch(fallback_random=True):  # the same random draws as eager
        a, b = _train(eager, tasks, iters, first), _train(compiled, tasks, iters, first)
    loss_gap = max(abs(float(u["loss"]) - float(v["loss"])) for u, v in zip(a, b))
    param_gap = max(
        float((p - q).abs().max().detach()) for p, q in zip(eager.model.parameters(), compiled.model.parameters())
    )
    return loss_gap, param_gap, compiled


def test_compile_mode_accepts_the_old_booleans():
    assert [compile_mode(v) for v in (False, True, "false", "True", None, "off", "forward", "step")] == [
        "off",
        "forward",
        "off",
        "forward",
        "off",
        "off",
        "forward",
        "step",
    ]
    with pytest.raises(ValueError, match="trainer.compile='graph' is not one of off, forward, step"):
        compile_mode("graph")
    for value in ("true", "false", "off", "forward", "step"):
        check_config(make_cfg([*TINY, f"trainer.compile={value}"]))
    assert make_cfg(TINY).trainer.compile == "off"
    with pytest.raises(ConfigError, match="trainer.compile='graph' is not one of off, forward, step"):
        check_config(make_cfg([*TINY, "trainer.compile=graph"]))


@pytest.mark.parametrize("variant", GRAPH_VARIANTS)
def test_the_whole_step_is_one_graph(variant):
    """Replay, forward, losses, the variant's terms, gradients, SI and Adam: zero graph breaks in tasks 2+."""
    step = _step([f"variant={variant}"], "step")
    assert step.whole is not None
    step.si.end_task()  # SI has importance, as in task 2
    replay = GenerativeReplay(frozen_copy(step.model), 2, B)
    x, y, idx = torch.randn(B, D), torch.randint(2, 4, (B,)), torch.arange(B)
    step.whole.prepare(2)
    before = copy.deepcopy(step.model.state_dict())
    keys = step.term_keys(replay)  # the terms' own draws come in from outside, as TrainStep.__call__ passes them
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        report = torch._dynamo.explain(step.whole.run)(x, y, 2, 4, replay, idx, keys)
    assert report.graph_break_count == 0, [r.reason for r in report.break_reasons]
    assert report.graph_count == 1
    after = step.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before), "the traced step updates the parameters"


def test_compiled_step_agrees_with_eager_and_compiles_once_in_a_task():
    """3 steps of a task with replay, SI penalty and every repulsion/recon term: the traced graph's losses and
    parameters match eager's, and the task compiled one graph (its later steps reuse it). Each graph takes seconds
    to compile: three tasks, one graph each, are in the slow tier (test_compiled_step_agrees_over_three_tasks)."""
    loss_gap, param_gap, compiled = _compare(ALL_TERMS, "aot_eager", 2, 3, first=2)
    assert loss_gap < 1e-4 and param_gap < 1e-4, (loss_gap, param_gap)
    assert compiled.whole is not None and compiled.whole.compiles == 1


@pytest.mark.slow
def test_compiled_step_agrees_over_three_tasks():
    """21 steps over three tasks (tasks 2+ with replay, SI penalty and every repulsion/recon term): the traced
    graph's losses and parameters match eager's, and each task compiled one graph."""
    loss_gap, param_gap, compiled = _compare(ALL_TERMS, "aot_eager", 3, 7)
    assert loss_gap < 1e-4 and param_gap < 1e-4, (loss_gap, param_gap)
    assert compiled.whole is not None and compiled.whole.compiles == 3


class _Opaque(LossTerm):
    name, traceable = "opaque", False

    def __call__(self, batch: ReplayBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        return batch.x.sum() * 0, torch.zeros((), dtype=torch.long)


def test_a_term_that_cannot_be_traced_keeps_the_step_eager(caplog):
    """The contrastive term's kornia views decide on the host: compiled in pieces the step ran slower than eager."""
    assert SupervisedContrastive.traceable is False
    model = BIRNet(D, C, 3, 48, 48, 8)
    si = SynapticIntelligence(model.si_parameters(), 1.0, 0.1)
    with caplog.at_level(logging.WARNING, logger="birsweep.train.step.compiled"):
        step = TrainStep(model, torch.optim.Adam(model.parameters()), si, D, 2.0, [_Opaque()], "32", "step")
    assert step.whole is None
    assert "the opaque term cannot be compiled into one graph" in caplog.text
    replay = GenerativeReplay(frozen_copy(model), 2, B)
    logs = step(torch.randn(B, D), torch.randint(2, 4, (B,)), 2, 4, replay, torch.arange(B))
    assert "opaque" in logs and torch.isfinite(logs["loss"])


@pytest.mark.slow
def test_inductor_step_agrees_with_eager():
    """The same with inductor's C++ kernels (minutes on a small CPU)."""
    loss_gap, param_gap, compiled = _compare(ALL_TERMS, "inductor", 2, 10)
    assert loss_gap < 1e-4 and param_gap < 1e-4, (loss_gap, param_gap)
    assert compiled.whole is not None and compiled.whole.compiles == 2


@pytest.mark.slow
def test_a_run_with_the_whole_step_compiled_gives_the_pinned_numbers(tmp_path):
    """launch.py's command line (in this process) with trainer.compile=step on tests/reference_runs.py's config
    bir_si-compile_step: a complete record with the numbers tests/golden pins for it. Checked here, not in
    test_reference_numbers.py, so that the inductor tests share one process's compiler start-up (a minute cold)."""
    run_dir = tmp_path / "run"
    out = cli(*REFERENCE_BASE, *CONFIGS["bir_si-compile_step"], f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    rec = record.load(str(run_dir))
    assert rec["status"] == "completed" and rec["config"]["trainer"]["compile"] == "step"
    assert len(rec["acc_matrix"]) == 3 and all(
        math.isfinite(v) for row in rec["losses"] for v in row.values() if isinstance(v, float)
    )
    want = json.loads(GOLDEN.read_text())["bir_si-compile_step"]
    assert rec["acc_matrix"] == want["acc_matrix"]
    assert len(rec["losses"]) == len(want["losses"])
    for row_got, row_want in zip(rec["losses"], want["losses"]):  # one row per logging interval
        assert row_got == row_want, (row_got, row_want)


@pytest.mark.parametrize("trainable", [False, True], ids=["no_internal", "sgr_feedback"])
def test_the_image_level_step_is_one_graph(trainable):
    """method.internal=false: conv layers in front (frozen, or trained as in the s-GR family), the transposed-conv
    decoder behind, a pass each for current and replayed images; still zero graph breaks in tasks 2+."""
    from birsweep.models.deconv import DeconvDecoder
    from birsweep.models.encoder import ConvEncoder

    torch.manual_seed(0)
    conv = ConvEncoder() if trainable else ConvEncoder().freeze()
    model = BIRNet(1024, C, 3, 32, 32, 8, conv=conv, deconv=DeconvDecoder((3, 32, 32)))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, fused=True)
    si = SynapticIntelligence(model.si_parameters(), 1e3, 0.1)
    step = TrainStep(model, opt, si, 3 * 32 * 32, 2.0, [], "32", "step")
    assert step.whole is not None and model.separate_passes
    step.si.end_task()
    replay = GenerativeReplay(frozen_copy(model), 2, 8)
    x, y, idx = torch.randn(8, 3, 32, 32), torch.randint(2, 4, (8,)), torch.arange(8)
    step.whole.prepare(2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        report = torch._dynamo.explain(step.whole.run)(x, y, 2, 4, replay, idx, step.term_keys(replay))
    assert report.graph_break_count == 0, [r.reason for r in report.break_reasons]
    after = model.state_dict()
    conv_moved = any(not torch.equal(before[k], after[k]) for k in before if k.startswith("convE.") and "conv." in k)
    assert conv_moved == trainable  # the s-GR family trains its conv layers, BI-R's no_internal keeps them
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("convD."))
