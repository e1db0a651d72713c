"""Does the training step compute the same numbers on a device as in float64 on the CPU? (benchmarks/gpu_check.py,
part ``agree``.)

Three tasks of a few steps each of BI-R + SI with replay (synthetic images through a random frozen encoder at
CIFAR-100 shapes; ``tiny``: the test suite's 8x8 pixels), run through birsweep's own steps:

* eager (``trainer.compile=off``, ``TrainStep``) on the device in float32, every random draw recorded on a
  :class:`Tape`;
* the same in float64 on the CPU, each random op handed the recorded value instead of drawing its own: the reference;
* ``trainer.compile=step`` (``WholeStep``; a CUDA graph on CUDA) on the device in float32, with inductor's
  ``fallback_random`` so that it draws what the eager step draws from the same seed;
* K trials batched (``BatchedStep.train``, the batched trainer's step) on the device in float32, each trial with its
  own seed and learning rate, fed the random tensors its own eager run recorded, against each trial's float64 run.

Each compares the logged losses of every step and the final parameters with the float64 run's. The network starts
from the same float32 initialisation everywhere, and the batches follow one index schedule.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from compile_speed import SHAPES, variant_config  # type: ignore[import-not-found]  # noqa: E402

# |loss - loss64| / max(|loss64|, 1) over every logged value of every step; |params - params64| / |params64| (L2).
# Measured on the CPU at CIFAR-100 shapes (3 tasks x 4 steps, 2026-12-06): losses 1.2e-7 to 5.6e-7, parameters
# 2.6e-6 to 3.3e-5; the parameters' gap is the larger because Adam turns a gradient that is rounding noise (weights
# of classes not yet seen, gated-off units) into a full step of either sign, so it has the looser tolerance.
LOSS_TOL = 1e-4
PARAM_TOL = 1e-3
BATCHED_LRS = (1e-4, 3e-4, 1e-3, 3e-4)  # the trials' learning rates (trial k: seed k)


class Tape(TorchDispatchMode):
    """Random ops under this mode: record (``values`` None) keeps a CPU copy of each output, in order; play hands
    each one the next recorded value instead (cast to its dtype and device). Any random aten op counts
    (``nondeterministic_seeded``: randn, randint, rand, normal_, bernoulli_, ...)."""

    def __init__(self, values: Optional[List[torch.Tensor]] = None):
        super().__init__()
        self.playing = values is not None
        self.values: List[torch.Tensor] = list(values) if values is not None else []
        self.at = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if torch.Tag.nondeterministic_seeded not in func.tags:
            return out
        if not isinstance(out, torch.Tensor):
            raise RuntimeError(f"{func}: a random op with several outputs is not taped")
        if not self.playing:
            self.values.append(out.detach().to("cpu", copy=True))
            return out
        if self.at >= len(self.values) or self.values[self.at].shape != out.shape:
            raise RuntimeError(f"{func}: the run draws other random tensors than the recorded one (draw {self.at})")
        out.copy_(self.values[self.at])
        self.at += 1
        return out


@dataclass
class Setup:
    """Features and labels (CPU, float32), the shape's facts, and every step's batch indices."""

    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    per_task: int
    batch: int
    model_kw: Dict[str, Any]
    si_c: float
    n_pixels: int
    schedule: List[List[torch.Tensor]]  # [task][step] -> row indices

    def first(self, tasks: int) -> Setup:
        """The same set-up with the first ``tasks`` tasks only."""
        return dataclasses.replace(self, schedule=self.schedule[:tasks])


def make_setup(shape: str, tasks: int, iters: int, per_class: int) -> Setup:
    from birsweep.data.datasets.synthetic import make_synthetic
    from birsweep.data.features import build_inputs
    from birsweep.models.encoder import ConvEncoder

    image, n_classes, per_task, B, model_kw, si_c, conv = SHAPES[shape]
    arrays = make_synthetic(image, n_classes, per_class, 1, 0.5, 0)
    torch.manual_seed(0)  # the random frozen encoder
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory() as cache:
        encoder = ConvEncoder().freeze() if conv else None
        inputs = build_inputs(arrays, encoder, False, False, cpu, cache, keep_images=False, progress=False)
        inputs.ensure(torch.arange(len(arrays.train_y)), torch.arange(len(arrays.test_y)))
    y = torch.as_tensor(arrays.train_y).long()
    g = torch.Generator().manual_seed(1)
    schedule = []
    for task in range(tasks):
        pool = torch.nonzero((y >= task * per_task) & (y < (task + 1) * per_task)).flatten()
        schedule.append([pool[torch.randint(len(pool), (B,), generator=g)] for _ in range(iters)])
    n_pixels = int(torch.tensor(image).prod())
    return Setup(inputs.train.clone(), y, n_classes, per_task, B, dict(model_kw), float(si_c), n_pixels, schedule)


def _model(s: Setup, seed: int, device: torch.device, dtype: torch.dtype):
    from birsweep.models.bir import BIRNet

    torch.manual_seed(seed)  # the float32 initialisation, the same for every run of this seed
    return BIRNet(s.x.shape[1], s.n_classes, **s.model_kw).to(device=device, dtype=dtype)


Result = Tuple[List[Dict[str, float]], List[torch.Tensor]]  # every step's logged values; the final parameters


def run_single(
    s: Setup,
    variant: str,
    device: torch.device,
    dtype: torch.dtype,
    mode: str,
    seed: int = 0,
    lr: float = 1e-4,
    tape: Optional[Tape] = None,
) -> Result:
    """Train ``len(s.schedule)`` tasks with birsweep's step (``mode``: off | step) as the run does: replay of the
    previous task's frozen copy from task 2 on, SI's importance after each task; the training under ``tape``."""
    from birsweep.methods.replay import GenerativeReplay, frozen_copy
    from birsweep.methods.si import SynapticIntelligence
    from birsweep.methods.variants import build_terms
    from birsweep.train.step.eager import TrainStep

    model = _model(s, seed, device, dtype)
    terms = build_terms(variant_config(variant), model, None)  # type: ignore[arg-type]
    groups = [{"params": list(model.parameters())}] + [g for t in terms for g in t.param_groups()]
    opt = torch.optim.Adam(groups, lr=lr, fused=True)
    si = SynapticIntelligence(model.si_parameters(), s.si_c, 0.1)
    step = TrainStep(model, opt, si, s.n_pixels, 2.0, terms, "32", mode, seed=seed)
    x, y = s.x.to(device=device, dtype=dtype), s.y.to(device)
    logs: List[Dict[str, float]] = []
    previous = None
    with tape if tape is not None else contextlib.nullcontext():
        for task, rows in enumerate(s.schedule, start=1):
            replay = GenerativeReplay(previous, s.per_task * (task - 1), s.batch) if previous is not None else None
            si.begin_task()
            for idx in rows:
                # each step's draws from a fresh seed: eager and compiled draw the same whatever the compiler's
                # warm-up, recording and replay of a CUDA graph did to the generator in between
                torch.manual_seed(100_000 * seed + len(logs))
                idx = idx.to(device)
                out = step(x[idx], y[idx], task, s.per_task * task, replay, idx)
                logs.append({k: float(v) for k, v in out.items()})
            si.end_task()
            previous = frozen_copy(model)
    return logs, [p.detach().to("cpu", torch.float64) for p in model.parameters()]


def run_batched(s: Setup, tapes: List[List[torch.Tensor]], device: torch.device) -> List[Result]:
    """K = len(tapes) baseline trials as one batched computation (float32); trial k: seed k, BATCHED_LRS[k], fed the
    random tensors its eager run drew (per step: replayed classes and their prior noise from task 2 on, the latent
    noise)."""
    from birsweep.methods.si import SynapticIntelligence
    from birsweep.train.batched.ops import BatchedStep, Drawn, StackedAdam, StepShape, stack_models

    K = len(tapes)
    models = [_model(s, k, device, torch.float32) for k in range(K)]
    params, buffers = stack_models(models)
    step = BatchedStep(models[0])
    adam = StackedAdam(params, torch.tensor(BATCHED_LRS[:K], device=device), (0.9, 0.999))
    tracked = {id(p) for p in models[0].si_parameters()}
    names = [k for k, p in models[0].named_parameters() if id(p) in tracked]
    si = SynapticIntelligence([params[k] for k in names], torch.full((K,), s.si_c, device=device), 0.1)
    temp = torch.full((K,), 2.0, device=device)
    x, y = s.x.to(device), s.y.to(device)
    draws = [iter(t) for t in tapes]
    logs: List[List[Dict[str, float]]] = [[] for _ in range(K)]
    prev = None
    for task, rows in enumerate(s.schedule, start=1):
        shape = StepShape(task, s.per_task * task, s.per_task * (task - 1), s.n_pixels, False)
        si.begin_task()
        for idx in rows:
            taken = [[next(d).to(device) for _ in range(3 if task > 1 else 1)] for d in draws]
            idx = idx.to(device)
            drawn = Drawn(
                torch.stack([x[idx]] * K),
                torch.stack([y[idx]] * K),
                torch.stack([t[-1] for t in taken]),
                torch.stack([t[0] for t in taken]) if task > 1 else None,
                torch.stack([t[1] for t in taken]) if task > 1 else None,
            )
            out = step.train(params, buffers, prev, temp, drawn, shape, adam, si)
            for k in range(K):
                logs[k].append({name: float(v[k].detach()) for name, v in out.items()})
        si.end_task()
        prev = {k: v.detach().clone() for k, v in params.items()}
    return [(logs[k], [p.detach()[k].to("cpu", torch.float64) for p in params.values()]) for k in range(K)]


def gaps(run: Result, reference: Result) -> Dict[str, float]:
    """The largest relative difference of a logged value over all steps, and the final parameters' difference
    (as one vector, in L2 norm) relative to their norm: a few near-zero gradients whose Adam step flips sign in
    float32 move single weights by up to the learning rate, which the norm weighs by their share."""
    (logs, params), (ref_logs, ref_params) = run, reference
    if len(logs) != len(ref_logs):
        raise RuntimeError(f"{len(logs)} steps against the reference's {len(ref_logs)}")
    loss = max(abs(a[k] - b[k]) / max(abs(b[k]), 1.0) for a, b in zip(logs, ref_logs) for k in b if k in a)
    diff = sum(float((p - q).pow(2).sum()) for p, q in zip(params, ref_params))
    param = (diff / sum(float(q.pow(2).sum()) for q in ref_params)) ** 0.5
    return {"loss_rel": loss, "param_rel": param}


def agree(
    device: torch.device, shape: str, tasks: int, iters: int, per_class: int, k: int, inner: Optional[str]
) -> Dict[str, Any]:
    """The part's figures: one row per way of running the step, each with its gaps to the float64 run."""
    import torch._dynamo.utils
    import torch._inductor.config

    from birsweep.train.step.compiled import WholeStep

    s = make_setup(shape, tasks, iters, per_class)
    cpu, rows = torch.device("cpu"), []

    def row(name: str, run: Result, ref: Result, **extra: Any) -> None:
        g = gaps(run, ref)
        ok = g["loss_rel"] <= LOSS_TOL and g["param_rel"] <= PARAM_TOL
        rows.append({"mode": name, **g, "loss_tol": LOSS_TOL, "param_tol": PARAM_TOL, "ok": ok, **extra})

    tapes, refs = [], []
    for seed in range(k):
        tape = Tape()
        eager = run_single(s, "baseline", device, torch.float32, "off", seed, BATCHED_LRS[seed], tape)
        played = Tape(tape.values)
        ref = run_single(s, "baseline", cpu, torch.float64, "off", seed, BATCHED_LRS[seed], played)
        if played.at != len(tape.values):
            raise RuntimeError(f"the float64 run drew {played.at} random tensors, the eager run {len(tape.values)}")
        tapes.append(tape.values)
        refs.append(ref)
        if seed == 0:
            row("eager", eager, ref, draws=len(tape.values))
            first = eager
    before = torch._dynamo.utils.counters["inductor"]["cudagraph_skips"]
    default_inner = WholeStep.inner
    WholeStep.inner = inner or default_inner
    try:
        with torch._inductor.config.patch(fallback_random=True):
            compiled = run_single(s, "baseline", device, torch.float32, "step", 0, BATCHED_LRS[0])
    finally:
        WholeStep.inner = default_inner
    skips = torch._dynamo.utils.counters["inductor"]["cudagraph_skips"] - before
    row("compiled", compiled, refs[0], vs_eager=gaps(compiled, first)["loss_rel"], cudagraph_skips=skips)
    batched = run_batched(s, tapes, device)
    worst = max(range(k), key=lambda i: gaps(batched[i], refs[i])["loss_rel"])
    row(f"batched K={k}", batched[worst], refs[worst], worst_trial=worst)
    facts = {"shape": shape, "tasks": tasks, "iters": iters, "batch": s.batch, "features": int(s.x.shape[1])}
    return {"rows": rows, "facts": facts, "ok": all(r["ok"] for r in rows)}
