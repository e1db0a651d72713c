"""``trainer.compile=step``: one training step (replay, forward, losses, variant terms, backward, SI, Adam) as one
compiled graph (docs/method.md, Compilation).

The eager step calls ``loss.backward()`` and ``optimizer.step()``, and both stop a graph: ``Optimizer.step`` breaks
the graph on purpose, and ``.backward()`` cannot be traced. Here the gradients come from ``torch.autograd.grad``
(traced with Dynamo's ``trace_autograd_ops``), SI's penalty and path integral take them as arguments, and the update
is torch's functional Adam on the optimiser's own state, so checkpoints and ``state_dict`` look as in eager runs:
on CUDA its capturable foreach form (no host reads of the step count, as a CUDA graph needs); on a CPU the
single-tensor form, which traces without host reads as well and still runs should Dynamo fall back to eager.
Shapes are static within a task; a new task (new replay model, new active classes) compiles once more. On CUDA
the graph runs as a CUDA graph.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, Union, cast

import torch
from torch.optim.adam import adam

from birsweep.methods.replay import GenerativeReplay
from birsweep.methods.si import SynapticIntelligence
from birsweep.methods.terms import LossTerm

log = logging.getLogger(__name__)

COMPILE_MODES = ("off", "forward", "step")
_LEGACY = {"false": "off", "true": "forward"}  # trainer.compile was a boolean: true compiled the forward pass
RECOMPILE_LIMIT = 256  # one graph per task: far more tasks than any run has


def compile_mode(value: Union[bool, str, None]) -> str:
    """``trainer.compile`` as one of COMPILE_MODES; the old booleans keep their meaning."""
    mode = str(value).lower() if value is not None else "off"
    mode = _LEGACY.get(mode, mode)
    if mode not in COMPILE_MODES:
        raise ValueError(f"trainer.compile={value!r} is not one of {', '.join(COMPILE_MODES)}")
    return mode


class _AdamGroup:
    """One Adam parameter group's tensors as lists (the state torch's Adam keeps, created here if missing)."""

    def __init__(self, optimizer: torch.optim.Optimizer, group: Dict[str, Any], params: List[torch.Tensor]):
        if group.get("amsgrad") or group.get("maximize") or group.get("decoupled_weight_decay"):
            raise ValueError("trainer.compile=step supports plain Adam (no amsgrad, maximize or AdamW)")
        self.params = params
        self.options = dict(
            beta1=group["betas"][0],
            beta2=group["betas"][1],
            lr=group["lr"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
        )
        states = [_adam_state(optimizer, p) for p in params]
        self.exp_avgs = [s["exp_avg"] for s in states]
        self.exp_avg_sqs = [s["exp_avg_sq"] for s in states]
        self.steps = [s["step"] for s in states]

    def tensors(self) -> List[torch.Tensor]:
        return self.exp_avgs + self.exp_avg_sqs + self.steps


def _adam_state(optimizer: torch.optim.Optimizer, p: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The parameter's Adam state as fused Adam creates it (the step count a float32 tensor on the device)."""
    state = optimizer.state[p]
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    elif state["step"].device != p.device or state["step"].dtype != torch.float32:
        state["step"] = state["step"].to(device=p.device, dtype=torch.float32)  # a checkpoint's CPU count
    return state


class StepParts(Protocol):
    """What the compiled step takes of the eager one (birsweep/train/step/eager.py): its parts and its objective."""

    @property
    def model(self) -> torch.nn.Module: ...
    @property
    def optimizer(self) -> torch.optim.Optimizer: ...
    @property
    def si(self) -> SynapticIntelligence: ...
    @property
    def terms(self) -> Sequence[LossTerm]: ...

    def losses(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: int,
        n_active: int,
        replay: Optional[GenerativeReplay],
        idx: Optional[torch.Tensor],
        keys: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]: ...


def whole_step_for(step: StepParts) -> Optional[WholeStep]:
    """The compiled step, or None (eager, with a warning) when a loss term cannot be traced as part of one graph
    (``traceable = False``: the contrastive term's kornia views decide on the host, and the graph they split ran
    at about half the eager speed in benchmarks/compile_speed.py)."""
    untraceable = [t.name for t in step.terms if not getattr(t, "traceable", True)]
    if untraceable:
        log.warning(
            "trainer.compile=step: the %s term cannot be compiled into one graph; this run's steps stay eager",
            ", ".join(untraceable),
        )
        return None
    return WholeStep(step)


class WholeStep:
    """The compiled form of an eager step (birsweep/train/step/eager.py); ``compiles`` counts the graphs compiled."""

    inner = "inductor"  # the compiler behind Dynamo; tests set "aot_eager" (same graph, no C++ build)

    def __init__(self, step: StepParts):
        if not isinstance(step.optimizer, torch.optim.Adam):
            raise ValueError("trainer.compile=step compiles the Adam update; the optimiser is not Adam")
        self.step = step
        self.compiles = 0
        self.cuda = next(step.model.parameters()).is_cuda
        self._prepared: Optional[Tuple[int, int]] = None
        self._groups: List[_AdamGroup] = []
        self._compiled: Callable[..., Dict[str, torch.Tensor]] = torch.compile(
            self.run, backend=self._backend, dynamic=False
        )

    def _backend(self, gm: torch.fx.GraphModule, example_inputs: List[torch.Tensor]) -> Callable[..., Any]:
        from torch._dynamo.backends.registry import lookup_backend
        from torch._inductor.compile_fx import compile_fx

        self.compiles += 1
        if self.inner != "inductor":
            return cast(Callable[..., Any], lookup_backend(self.inner)(gm, example_inputs))
        # CUDA: replay the step as a CUDA graph (what mode="reduce-overhead" sets); CPU: inductor's C++ kernels
        patches = {"triton.cudagraphs": True} if self.cuda else {}
        return cast(Callable[..., Any], compile_fx(gm, example_inputs, config_patches=patches))

    def prepare(self, task: int) -> None:
        """Once per task: the Adam state of every parameter (a checkpoint may have replaced it) as lists."""
        opt = self.step.optimizer
        if self._prepared == (task, id(opt.state)):
            return
        self._groups = []
        for group in opt.param_groups:
            params = [p for p in group["params"] if p.requires_grad]
            if params:
                self._groups.append(_AdamGroup(opt, group, params))
        if self.cuda:  # fixed addresses, so the CUDA graph updates them in place instead of copying
            si = self.step.si
            for t in [t for g in self._groups for t in g.tensors()] + si.W + si.prev + si.anchor + si.omega:
                torch._dynamo.mark_static_address(t)
        self._prepared = (task, id(opt.state))

    def run(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: int,
        n_active: int,
        replay: Optional[GenerativeReplay],
        idx: Optional[torch.Tensor],
        keys: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """The traced step: losses, gradients, SI, Adam; returns the detached logged values."""
        step, si = self.step, self.step.si
        total, logs = step.losses(x, y, task, n_active, replay, idx, keys)
        params = [p for g in self._groups for p in g.params]
        grads = list(torch.autograd.grad(total, params, allow_unused=True))
        by_param = dict(zip(params, grads))
        with torch.no_grad():
            si_grads = [by_param[p] for p in si.params] if si.enabled else []
            si.add_penalty_grad_to(si_grads)
            for g in self._groups:
                # as eager Adam: a parameter without a gradient in this graph (e.g. the contrastive head in task 1)
                # is left alone
                keep = [i for i, p in enumerate(g.params) if by_param[p] is not None]
                adam(
                    [g.params[i] for i in keep],
                    [by_param[g.params[i]] for i in keep],
                    [g.exp_avgs[i] for i in keep],
                    [g.exp_avg_sqs[i] for i in keep],
                    [],
                    [g.steps[i] for i in keep],
                    foreach=self.cuda,
                    capturable=self.cuda,
                    amsgrad=False,
                    maximize=False,
                    **g.options,
                )
            si.after_step_with(si_grads)
        return {k: v.detach() for k, v in logs.items()}

    def __call__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        task: int,
        n_active: int,
        replay: Optional[GenerativeReplay],
        idx: Optional[torch.Tensor],
        keys: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        self.step.model.train()
        self.prepare(task)
        with torch._dynamo.config.patch(trace_autograd_ops=True, recompile_limit=RECOMPILE_LIMIT):
            out = self._compiled(x, y, task, n_active, replay, idx, keys)
        if self.cuda:  # a CUDA graph's outputs are overwritten by its next replay
            out = {k: v.clone() for k, v in out.items()}
        return out
