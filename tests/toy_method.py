"""A method added the way a new method is added: this module plus one YAML file, tests/conf/method/toy_rehearsal.yaml
(see test_method_registry.py and docs/method.md, Adding a method).

Toy rehearsal: a plain classifier that keeps the first ``memory_per_task`` training samples of every finished task
and mixes them into the batches of the tasks after it. It is no method of the paper; it only has to be composed,
checked, trained, checkpointed and reported like a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
from omegaconf import DictConfig

from birsweep.declare import bounded
from birsweep.methods.classifier_method import ClassifierParts
from birsweep.methods.method_api import Built, MethodHooks, Toolkit
from birsweep.methods.method_registry import MethodSpec, register_method


@dataclass
class ToyRehearsalConfig:
    memory_per_task: int = bounded(10, 1)  # training samples kept of each finished task


class ToyRehearsalHooks(MethodHooks):
    def __init__(self, memory_per_task: int):
        self.memory_per_task = memory_per_task
        self.memory: List[torch.Tensor] = []  # the kept sample indices, one tensor per finished task
        self.train_idx: List[torch.Tensor] = []

    def train_indices(self, task: int, train_idx: List[torch.Tensor]) -> torch.Tensor:
        self.train_idx = train_idx
        return torch.cat([train_idx[task], *self.memory])

    def end_task(self, task: int, n_active: int) -> None:
        self.memory.append(self.train_idx[task][: self.memory_per_task].clone())

    def state_dict(self) -> Dict[str, Any]:
        return {"memory": [m.cpu() for m in self.memory]}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.memory = [m.to(self.train_idx[0].device) for m in state["memory"]]


def build(tk: Toolkit) -> Built:
    hooks = ToyRehearsalHooks(int(tk.cfg.method.memory_per_task))
    hooks.train_idx = tk.train_idx
    return ClassifierParts(tk).built(hooks)


def check(cfg: DictConfig) -> Optional[str]:
    if cfg.method.targets != "soft":
        return f"method.targets={cfg.method.targets}: toy_rehearsal replays nothing to label; drop it"
    return None


register_method(MethodSpec("toy_rehearsal", "Toy rehearsal", ToyRehearsalConfig, build, order=90, check=check))
