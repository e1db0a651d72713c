"""What memory exaggeration is meant to change, measured after each task (docs/analysis.md, Diagnostics).

After task t, with the classes seen so far and the "old" ones (learnt in tasks before t, those replayed in t):

(a) the test confusion matrix over the classes seen (rows true, columns predicted, in the run's class order; the
    original labels are in ``classes``);
(b) the top-k pairs of old classes by symmetric confusion rate (C[a,b] + C[b,a]) / (n_a + n_b): the competing
    memories;
(c) their latent separation: the symmetric KL between their prior modes and the Euclidean distance between the
    mean posterior means of their test samples;
(d) replay recognisability: the current model's accuracy on samples it generates for each class seen;
(e) each term's participation in the task.

Diagnostics must not change training: everything runs without gradients in eval mode (the model's mode is put
back), and the replayed samples are drawn from a private ``torch.Generator`` seeded by the run's seed and the task,
so the global RNG streams are left as they were. The work stays on the device; the host reads the results once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
from omegaconf import DictConfig

from birsweep.data.stream import ClassIncrementalStream
from birsweep.models.bir import BIRNet


@dataclass(frozen=True)
class DiagnosticsSettings:
    top_pairs: int = 5  # most confused pairs of old classes kept per task
    replay_per_class: int = 100  # generated samples per class for replay recognisability (0: skip it)
    batch: int = 1024  # evaluation chunk


def generator_for(seed: int, task: int, device: torch.device) -> torch.Generator:
    """The private generator of task ``task``'s replayed samples (never the global one)."""
    return torch.Generator(device=device).manual_seed((int(seed) * 1_000_033 + 7 * int(task)) % (2**63))


def symmetric_kl(mu_a: torch.Tensor, logvar_a: torch.Tensor, mu_b: torch.Tensor, logvar_b: torch.Tensor):
    """KL(a‖b) + KL(b‖a) of diagonal Gaussians, summed over the last dimension."""
    var_a, var_b = logvar_a.exp(), logvar_b.exp()
    diff2 = (mu_a - mu_b) ** 2
    return 0.5 * (var_a / var_b + var_b / var_a + diff2 * (1 / var_a + 1 / var_b) - 2).sum(-1)


def top_confused_pairs(confusion: torch.Tensor, n_old: int, k: int):
    """``(a, b, rate)`` tensors of the ``k`` old-class pairs (a < b) with the highest symmetric confusion rate."""
    C = confusion[:n_old, :n_old].double()
    n = confusion[:n_old].sum(1).double()
    rate = (C + C.t()) / (n[:, None] + n[None, :]).clamp(min=1)
    a, b = torch.triu_indices(n_old, n_old, offset=1, device=confusion.device)
    values = rate[a, b]
    k = min(k, len(values))
    order = torch.argsort(values, descending=True, stable=True)[:k]  # ties: the lower pair index first
    return a[order], b[order], values[order]


class TaskDiagnostics:
    """Measures (a)-(e) of the model after a task on the test set (features, labels and each task's indices)."""

    def __init__(
        self,
        settings: DiagnosticsSettings,
        features: Callable[[], torch.Tensor],
        labels: torch.Tensor,
        task_indices: Sequence[torch.Tensor],
        classes_per_task: int,
        class_order: Sequence[Sequence[int]],
        seed: int,
    ):
        self.settings, self.features, self.labels = settings, features, labels
        self.task_indices, self.cpt, self.seed = list(task_indices), classes_per_task, seed
        self.original = [int(c) for task in class_order for c in task]  # new label -> original label

    @torch.no_grad()
    def __call__(self, model: BIRNet, task: int, participation: Mapping[str, int]) -> Dict[str, Any]:
        """The diagnostics entry of task ``task`` (1-based)."""
        was_training = model.training
        model.eval()
        try:
            entry = self._measure(model, task)
        finally:
            model.train(was_training)
        entry["participation"] = {name: int(count) for name, count in participation.items()}
        return entry

    def _measure(self, model: BIRNet, task: int) -> Dict[str, Any]:
        n_seen, n_old = task * self.cpt, (task - 1) * self.cpt
        features = self.features()  # read now: a run encodes the test set task by task
        device = features.device
        confusion = torch.zeros(n_seen * n_seen, dtype=torch.long, device=device)
        mu_sum = torch.zeros(n_seen, model.z_dim, dtype=torch.float64, device=device)
        idx = torch.cat(self.task_indices[:task])
        for start in range(0, len(idx), self.settings.batch):
            chunk = idx[start : start + self.settings.batch]
            y = self.labels[chunk]
            hE, mu, _ = model.encode(features[chunk])
            pred = model.classifier(hE)[:, :n_seen].argmax(1)
            confusion += torch.bincount(y * n_seen + pred, minlength=n_seen * n_seen)
            mu_sum.index_add_(0, y, mu.double())
        confusion = confusion.view(n_seen, n_seen)
        counts = confusion.sum(1)
        mean_mu = mu_sum / counts.clamp(min=1)[:, None]
        a, b, rate = top_confused_pairs(confusion, n_old, self.settings.top_pairs)
        pm, plv = model.prior_mu.double(), model.prior_logvar.double()
        skl = symmetric_kl(pm[a], plv[a], pm[b], plv[b])
        distance = (mean_mu[a] - mean_mu[b]).norm(dim=1)
        pairs = torch.stack([a.double(), b.double(), rate, skl, distance], 1).tolist()  # one host read
        replay = self._replay_accuracy(model, task, n_seen)
        entry: Dict[str, Any] = {
            "task": task,
            "classes": self.original[:n_seen],
            "n_old": n_old,
            "confusion": confusion.tolist(),  # one host read
            "pairs": [
                {
                    "classes": [self.original[int(i)], self.original[int(j)]],
                    "rate": round(r, 6),
                    "skl": round(s, 6),
                    "distance": round(d, 6),
                }
                for i, j, r, s, d in pairs
            ],
            "replay_acc": replay,
            "replay_acc_old": _mean(replay[:n_old]) if replay is not None else None,
        }
        return entry

    def _replay_accuracy(self, model: BIRNet, task: int, n_seen: int) -> Optional[List[float]]:
        per_class = self.settings.replay_per_class
        if per_class <= 0:
            return None
        device = model.prior_mu.device
        gen = generator_for(self.seed, task, device)
        hits = torch.zeros(n_seen, dtype=torch.long, device=device)
        step = max(1, self.settings.batch // per_class)  # classes per chunk
        for lo in range(0, n_seen, step):
            classes = torch.arange(lo, min(lo + step, n_seen), device=device).repeat_interleave(per_class)
            x = model.generate(classes, generator=gen)
            pred = model.classify(x)[:, :n_seen].argmax(1)
            hits += torch.bincount(classes[pred == classes], minlength=n_seen)
        return [round(h / per_class, 6) for h in hits.tolist()]  # one host read


def build_diagnostics(
    cfg: DictConfig,
    stream: ClassIncrementalStream,
    features: Callable[[], torch.Tensor],
    labels: torch.Tensor,
    task_indices: Sequence[torch.Tensor],
) -> Optional[TaskDiagnostics]:
    """The run's diagnostics on its test set as ``cfg.diagnostics`` asks; None when they are off."""
    d = cfg.diagnostics
    if not d.enabled:
        return None
    settings = DiagnosticsSettings(int(d.top_pairs), int(d.replay_per_class), int(cfg.trainer.eval_batch))
    order = [stream.original_classes(k) for k in range(stream.n_tasks)]
    return TaskDiagnostics(settings, features, labels, task_indices, stream.classes_per_task, order, int(cfg.seed))


def _mean(values: List[float]) -> Optional[float]:
    return round(sum(values) / len(values), 6) if values else None
