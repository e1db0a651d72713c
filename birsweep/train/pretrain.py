"""Pre-training of the conv encoder on CIFAR-10 (docs/method.md, Encoder pre-training), cached and reused across
runs and trials.

The recipe: encoder + fc 1024-2000-2000 (ReLU) + linear classifier, cross-entropy, Adam lr 1e-4, batch 256
with drop_last, CIFAR-10 normalisation, 100 epochs. The weights file is keyed by architecture and recipe, so a
changed recipe never reuses stale weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from typing import Any, Callable, Dict, cast

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from birsweep.build_once import build_once
from birsweep.data.arrays import channel_normaliser
from birsweep.data.augment import crop_flip
from birsweep.data.sources import load_source
from birsweep.errors import ConfigError
from birsweep.io import atomic_write, write_json
from birsweep.models.encoder import ARCH_NAME, ConvEncoder

log = logging.getLogger(__name__)


class PretrainClassifier(nn.Module):
    def __init__(self, n_classes: int):
        super().__init__()
        self.convE = ConvEncoder()
        self.fcE = nn.Sequential(nn.Linear(1024, 2000), nn.ReLU(), nn.Linear(2000, 2000), nn.ReLU())
        self.classifier = nn.Linear(2000, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fcE(self.convE(x)))


def recipe_key(recipe: DictConfig) -> str:
    fields = cast(Dict[str, Any], OmegaConf.to_container(recipe, resolve=True))  # a DictConfig gives a dict
    text = json.dumps({"arch": ARCH_NAME, **fields}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_weights_path(cache_dir: str, recipe: DictConfig) -> str:
    return os.path.join(os.path.expanduser(cache_dir), "encoders", f"{ARCH_NAME}-{recipe_key(recipe)}.pt")


def summary_path(weights_path: str) -> str:
    """The JSON beside a weights file that says how it was pre-trained (steps, test accuracy, recipe)."""
    return os.path.splitext(weights_path)[0] + ".json"


@torch.no_grad()
def _test_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    batch: int = 1000,
) -> float:
    model.eval()
    hits = 0
    for s in range(0, len(x), batch):
        hits += (model(to_input(x[s : s + batch])).argmax(1) == y[s : s + batch]).sum().item()
    model.train()
    return hits / max(1, len(x))


def pretrain_encoder(
    recipe: DictConfig, data_root: str, download: bool, device: torch.device, progress: bool = True
) -> Dict[str, object]:
    """Train the classifier on the recipe's dataset; return the encoder state and a summary."""
    torch.manual_seed(recipe.seed)
    arrays = load_source(OmegaConf.create({"name": recipe.dataset, "root": data_root, "download": download}))
    if arrays.mean is None or arrays.std is None:
        raise ConfigError(f"pre-training the encoder needs per-channel image statistics; {recipe.dataset} has none")
    train_x, train_y = arrays.train_x.to(device), arrays.train_y.to(device)
    normalise = channel_normaliser(arrays.mean, arrays.std, device)

    def to_input(xb: torch.Tensor) -> torch.Tensor:
        return normalise(arrays.to_unit(xb))

    model = PretrainClassifier(arrays.n_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, betas=(0.9, 0.999))
    per_epoch = len(train_x) // recipe.batch_size
    if per_epoch == 0:
        raise ValueError(f"{recipe.dataset} has {len(train_x)} images, fewer than one batch of {recipe.batch_size}")
    total = recipe.epochs * per_epoch if recipe.max_iters is None else min(recipe.max_iters, recipe.epochs * per_epoch)
    bar = tqdm(total=total, desc=f"pre-train {ARCH_NAME} on {recipe.dataset}", disable=not progress)
    step, start = 0, time.time()
    while step < total:
        order = torch.randperm(len(train_x), device=device)
        for b in range(per_epoch):
            if step == total:
                break
            idx = order[b * recipe.batch_size : (b + 1) * recipe.batch_size]
            xb = to_input(train_x[idx])
            if recipe.augment:
                xb = crop_flip(xb)
            loss = F.cross_entropy(model(xb), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    acc = _test_accuracy(model, arrays.test_x.to(device), arrays.test_y.to(device), to_input)
    log.info("pre-trained %s on %s: %d steps, test accuracy %.2f%%", ARCH_NAME, recipe.dataset, step, 100 * acc)
    return {
        "state": {k: v.cpu() for k, v in model.convE.state_dict().items()},
        "summary": {
            "steps": step,
            "test_accuracy": acc,
            "seconds": round(time.time() - start, 1),
            "recipe": OmegaConf.to_container(recipe, resolve=True),
        },
    }


def ensure_pretrained(
    recipe: DictConfig,
    cache_dir: str,
    data_root: str,
    download: bool,
    device: torch.device,
    progress: bool = True,
    force: bool = False,
) -> str:
    """Path to the cached encoder weights for this recipe, pre-training them first if needed (once, whatever the
    number of processes asking at the same time: :func:`birsweep.build_once.build_once`)."""
    path = cached_weights_path(cache_dir, recipe)

    def build() -> None:
        log.info(
            "no cached %s weights for this recipe: pre-training on %s (once; cached at %s)",
            ARCH_NAME,
            recipe.dataset,
            path,
        )
        result = pretrain_encoder(recipe, data_root, download, device, progress)
        write_json(summary_path(path), result["summary"])  # before the weights: their arrival ends every wait
        atomic_write(path, lambda tmp: torch.save({"state": result["state"]}, tmp))

    build_once(path, build, force=force)
    return path


def encoder_weights(
    encoder_cfg: DictConfig, cache_dir: str, data_root: str, download: bool, device: torch.device, progress: bool = True
) -> str:
    """What ``model.encoder.weights`` names, for :func:`birsweep.models.encoder.build_encoder`: ``pretrain``
    becomes the cached pre-trained file (pre-trained first if missing); ``random`` and paths stay as given."""
    weights = str(encoder_cfg.weights)
    if weights == "pretrain":
        return ensure_pretrained(encoder_cfg.pretrain, cache_dir, data_root, download, device, progress)
    return weights
