"""Count the reads of device values by the host (each one a synchronisation on a GPU): ``.item()``, ``.tolist()``,
``bool(t)`` / ``int(t)`` / ``float(t)`` and the ops behind them. Used by the tests and benchmarks to keep the
training step free of them (docs/method.md, Compilation).
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

# Python-level tensor methods that hand a value to the host
_METHODS = {"item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__"}
# aten ops whose result the host must wait for: a scalar read, or an output whose size depends on the data
_OPS = {"_local_scalar_dense", "nonzero", "masked_select", "_unique2", "unique_consecutive", "is_nonzero"}


class _Methods(TorchFunctionMode):
    def __init__(self, counts: Counter) -> None:
        super().__init__()
        self.counts = counts

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: Tuple[Any, ...] = (), kwargs: Optional[Dict] = None
    ) -> Any:
        name = getattr(func, "__name__", "")
        if name in _METHODS:
            self.counts[f"Tensor.{name}"] += 1
        return func(*args, **(kwargs or {}))


class _Ops(TorchDispatchMode):
    def __init__(self, counts: Counter) -> None:
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Tuple[Any, ...] = (), kwargs: Optional[Dict] = None
    ) -> Any:
        name = func.overloadpacket.__name__
        if name in _OPS:
            self.counts[f"aten.{name}"] += 1
        elif name in ("_to_copy", "copy_") and _leaves_device(func, args, kwargs or {}):
            self.counts["aten.copy to host"] += 1
        return func(*args, **(kwargs or {}))


def _leaves_device(func: Any, args: Tuple[Any, ...], kwargs: Dict) -> bool:
    """A copy from an accelerator to the CPU."""
    if func.overloadpacket.__name__ == "copy_":
        dst, src = args[0], args[1]
        return isinstance(src, torch.Tensor) and src.device.type != "cpu" and dst.device.type == "cpu"
    src, target = args[0], kwargs.get("device")
    return src.device.type != "cpu" and target is not None and torch.device(target).type == "cpu"


@contextmanager
def count_host_reads() -> Iterator[Counter]:
    """``with count_host_reads() as counts:`` counts host reads by kind (``Tensor.item``, ``aten.nonzero``, ...).
    A ``.item()`` shows twice (the method and its ``aten._local_scalar_dense``); :func:`total` counts it once."""
    counts: Counter = Counter()
    with _Methods(counts), _Ops(counts):
        yield counts


def total(counts: Counter) -> int:
    """Distinct host reads: the aten-level events, plus ``.tolist()`` / ``.numpy()``, which read a CPU tensor's
    memory without an aten op (on a GPU they also show as a copy to the host: counted twice there)."""
    return sum(v for k, v in counts.items() if k.startswith("aten.")) + counts["Tensor.tolist"] + counts["Tensor.numpy"]
