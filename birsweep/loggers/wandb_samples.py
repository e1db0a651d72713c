"""What the W&B logger shows of a model after each task: a grid of replayed images per class (pixel models) or a
plot of the class prior modes (hidden replay). Drawn with the logger's own ``torch.Generator``, so the run's random
streams are left as they were."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from omegaconf import DictConfig

from birsweep.models.bir import BIRNet

MAX_SAMPLE_CLASSES = 20


def seen_labels(class_order: Optional[Sequence[Sequence[int]]], task: int, model: BIRNet, n_tasks: int) -> List[str]:
    """Original labels of the classes seen after ``task`` tasks, in the model's (relabelled) class order."""
    if class_order:
        return [str(c) for t in class_order[:task] for c in t]
    return [str(c) for c in range(model.n_classes * task // n_tasks)]


def generate(model: BIRNet, classes: torch.Tensor, seed: int, task: int) -> torch.Tensor:
    """``model.generate`` with a generator of its own, seeded by the run's seed and the task."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + task)
    return model.generate(classes.to(model.out.weight.device), generator=gen).float().cpu()


@torch.no_grad()
def samples_row(
    cfg: DictConfig, class_order: Optional[Sequence[Sequence[int]]], task: int, model: BIRNet, shape: Tuple[int, ...]
) -> Optional[Dict[str, Any]]:
    """The W&B row of task ``task``'s picture, or None where there is nothing to show (a standard normal prior,
    ``method.conditional=false``, has no modes)."""
    import wandb

    from birsweep.tracking.figures import figure_rgb, image_grid, prior_statistics

    labels = seen_labels(class_order, task, model, int(cfg.data.n_tasks))
    n_seen = len(labels)
    pixel_model = cfg.model.encoder.type == "none" and int(np.prod(shape)) == int(model.in_dim)
    if pixel_model:
        shown = min(n_seen, MAX_SAMPLE_CLASSES)
        k = int(cfg.logger.samples_per_class)
        x = generate(model, torch.arange(shown).repeat_interleave(k), int(cfg.seed), task)
        if not model.bce:  # not bounded to [0, 1]: stretch for display
            x = (x - x.min()) / (x.max() - x.min() + 1e-12)
        grid = image_grid(x.reshape(shown, k, *shape).numpy())
        caption = (
            f"after task {task}: {k} replayed samples per class; rows = classes "
            f"{', '.join(labels[:shown])} (original labels)"
        )
        return {"samples/replay": wandb.Image(grid, caption=caption), "task": task}
    if model.conditional:
        mu = model.prior_mu[:n_seen].detach().float().cpu().numpy()
        logvar = model.prior_logvar[:n_seen].detach().float().cpu().numpy()
        fig = prior_statistics(mu, logvar, labels, title=f"class prior modes after task {task}")
        caption = f"after task {task}: latent prior of the {n_seen} classes seen (replay is in feature space)"
        return {"samples/prior": wandb.Image(figure_rgb(fig), caption=caption), "task": task}
    return None
