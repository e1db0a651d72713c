"""Class-incremental stream: seeded class order, equal-size tasks, global labels, batches drawn by index."""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import torch

from birsweep.errors import ConfigError


def class_permutation(seed: int, n_classes: int, natural_order_below_seed: int = 0) -> np.ndarray:
    """``perm[y]`` is the new label of original class ``y``: upstream's ``np.random.seed(seed); permutation(n)``.

    Upstream's splitMNIST keeps the natural order for seeds below 10 (``exception=seed<10``); CIFAR-100 always
    permutes. ``natural_order_below_seed`` carries that rule (10 for the MNIST-like data, 0 for CIFAR).
    """
    if seed < natural_order_below_seed:
        return np.arange(n_classes)
    return np.random.RandomState(seed).permutation(n_classes)


class ClassIncrementalStream:
    """Relabels classes by the seeded permutation and splits them into ``n_tasks`` tasks.

    Task ``k`` (0-based) holds the new labels ``k*cpt .. (k+1)*cpt-1``; labels stay global (class-IL).
    With ``val_fraction > 0`` that share of each class's training samples is held out as the task's validation
    set (``val_idx``), drawn from a generator of its own so the class order and the global RNG stay untouched.
    """

    def __init__(
        self,
        train_y: torch.Tensor,
        test_y: torch.Tensor,
        n_classes: int,
        n_tasks: int,
        seed: int,
        natural_order_below_seed: int = 0,
        val_fraction: float = 0.0,
    ):
        if n_classes % n_tasks:
            raise ConfigError(
                f"data.n_tasks={n_tasks} does not divide the {n_classes} classes into equal tasks; "
                f"pick a divisor of {n_classes}"
            )
        self.n_classes, self.n_tasks = n_classes, n_tasks
        self.classes_per_task = n_classes // n_tasks
        self.perm = torch.from_numpy(class_permutation(seed, n_classes, natural_order_below_seed))
        self.train_y = self.perm[train_y]
        self.test_y = self.perm[test_y]
        self.train_idx: List[torch.Tensor] = [self._task_indices(self.train_y, k) for k in range(n_tasks)]
        self.test_idx: List[torch.Tensor] = [self._task_indices(self.test_y, k) for k in range(n_tasks)]
        self.val_idx: Optional[List[torch.Tensor]] = None
        if val_fraction > 0:
            self._hold_out(float(val_fraction), seed)

    def _hold_out(self, fraction: float, seed: int) -> None:
        """Move ``fraction`` of every class's training samples (at least one, never all) to the validation sets."""
        gen = torch.Generator().manual_seed(seed)
        train, val = [], []
        for k in range(self.n_tasks):
            kept, held = [], []
            for label in range(k * self.classes_per_task, (k + 1) * self.classes_per_task):
                idx = torch.nonzero(self.train_y == label).flatten()
                if len(idx) < 2:
                    raise ConfigError(
                        f"data.val_fraction={fraction}: class {label} has {len(idx)} training sample(s), too few to "
                        "hold any out; use data.val_fraction=0"
                    )
                n_val = min(len(idx) - 1, max(1, round(fraction * len(idx))))
                order = torch.randperm(len(idx), generator=gen)
                held.append(idx[order[:n_val]])
                kept.append(idx[order[n_val:]])
            train.append(torch.sort(torch.cat(kept)).values)
            val.append(torch.sort(torch.cat(held)).values)
        self.train_idx, self.val_idx = train, val

    def _task_indices(self, labels: torch.Tensor, task: int) -> torch.Tensor:
        lo = task * self.classes_per_task
        return torch.nonzero((labels >= lo) & (labels < lo + self.classes_per_task)).flatten()

    def original_classes(self, task: int) -> List[int]:
        """Original dataset class ids of a task, in new-label order."""
        inverse = torch.argsort(self.perm)
        lo = task * self.classes_per_task
        return inverse[lo : lo + self.classes_per_task].tolist()

    def classes_seen(self, n_tasks_done: int) -> int:
        return n_tasks_done * self.classes_per_task


class IndexBatches:
    """Endless batches of indices into one task's samples: reshuffled each pass, last partial batch dropped.

    Works on the device of ``indices`` with the global torch RNG (or ``generator``, one per trial when trials are
    batched), so the loop never syncs with the host.
    """

    def __init__(self, indices: torch.Tensor, batch_size: int, generator: Optional[torch.Generator] = None):
        if len(indices) < batch_size:
            raise ConfigError(
                f"a task has only {len(indices)} training samples, fewer than trainer.batch_size="
                f"{batch_size}; lower trainer.batch_size"
            )
        self.indices, self.batch_size, self.generator = indices, batch_size, generator
        self.per_pass = len(indices) // batch_size
        self._order, self._next = indices[:0], self.per_pass  # _next at the end: the first call shuffles

    def __next__(self) -> torch.Tensor:
        if self._next == self.per_pass:
            self._order = self.indices[
                torch.randperm(len(self.indices), generator=self.generator, device=self.indices.device)
            ]
            self._next = 0
        start = self._next * self.batch_size
        self._next += 1
        return self._order[start : start + self.batch_size]
