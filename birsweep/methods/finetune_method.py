"""Fine-tuning, the lower bound (upstream ``--replay=none``; docs/method.md, Methods: None), and SI alone (upstream
``--si``): a plain classifier trained on each task in turn; SI's strength is ``model.si_c`` (set by si.yaml)."""

from __future__ import annotations

from birsweep.methods.classifier_method import ClassifierParts
from birsweep.methods.method_api import Built, MethodHooks, NoKeys, Toolkit
from birsweep.methods.method_registry import MethodSpec, register_method


def build(tk: Toolkit) -> Built:
    return ClassifierParts(tk).built(MethodHooks())


register_method(MethodSpec("none", "None", NoKeys, build, order=10, across_tasks=False))
register_method(MethodSpec("si", "SI", NoKeys, build, order=40))
