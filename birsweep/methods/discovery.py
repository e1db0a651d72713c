"""Every module of ``birsweep.methods`` imported once, so that the loss terms and the methods register themselves
(birsweep/methods/term_registry.py, birsweep/methods/method_registry.py) before either registry is read."""

from __future__ import annotations

import importlib
import pkgutil

_done = False


def import_all() -> None:
    global _done
    if _done:
        return
    _done = True
    package = importlib.import_module("birsweep.methods")
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
