"""Learning without Forgetting (upstream ``--replay=current --distill``; docs/method.md, Methods: LwF): a plain
classifier; from the second task the current inputs are replayed with the previous model's targets."""

from __future__ import annotations

from typing import Any

from birsweep.methods.classifier_method import ClassifierParts, replay_from
from birsweep.methods.lwf import CurrentInputReplay
from birsweep.methods.method_api import Built, MethodHooks, NoKeys, Toolkit
from birsweep.methods.method_registry import MethodSpec, register_method


class LwFHooks(MethodHooks):
    def replay(self, task: int, previous: Any, n_old: int, batch_size: int) -> Any:
        model = replay_from(task, previous)
        return None if model is None else CurrentInputReplay(model, n_old, batch_size)


def build(tk: Toolkit) -> Built:
    return ClassifierParts(tk).built(LwFHooks())


register_method(MethodSpec("lwf", "LwF", NoKeys, build, order=20))
