"""The evaluation classifier for IS, FID and precision-recall (upstream's "f20": fcE 1024-2000-2000 + a linear
layer to the classes, trained on top of the frozen pre-trained conv layers for 20 epochs of CIFAR-100 with
augmentation). Upstream's file of it was never published, so the project trains it once and caches it, keyed by
the recipe, the frozen encoder and the data, like the encoder itself (birsweep/train/pretrain.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from typing import Any, Dict, Tuple, cast

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn import functional as F

from birsweep.build_once import build_once
from birsweep.data.augment import crop_flip
from birsweep.data.features import data_digest, state_digest
from birsweep.gen_eval.feature_space import EncodedData
from birsweep.io import atomic_write, write_json

log = logging.getLogger(__name__)


class EvalClassifier(nn.Module):
    def __init__(self, in_dim: int, units: int, n_classes: int):
        super().__init__()
        self.fcE = nn.Sequential(nn.Linear(in_dim, units), nn.ReLU(), nn.Linear(units, units), nn.ReLU())
        self.classifier = nn.Linear(units, n_classes)

    def features(self, h: torch.Tensor) -> torch.Tensor:
        """The embedding FID and precision-recall compare (upstream's feature_extractor: fcE's output)."""
        return self.fcE(h)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fcE(h))


def cache_path(recipe: DictConfig, inputs: EncodedData, cache_dir: str) -> str:
    """The weights file of this recipe on this data and frozen encoder."""
    if inputs.arrays is None or not isinstance(inputs.encode, nn.Module):
        raise ValueError("the evaluation classifier needs the run's images and its frozen conv encoder")
    fields = cast(Dict[str, Any], OmegaConf.to_container(recipe, resolve=True))
    text = json.dumps(
        {
            **fields,
            "data": inputs.arrays.name,
            "data_digest": data_digest(inputs.arrays),
            "encoder": state_digest(inputs.encode),
        },
        sort_keys=True,
    )
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    return os.path.join(os.path.expanduser(cache_dir), "eval_classifiers", f"f{recipe.epochs}-{key}.pt")


def _encoded(inputs: EncodedData, images: torch.Tensor, augment: bool, device: torch.device) -> torch.Tensor:
    assert inputs.arrays is not None
    x = inputs.normalise(inputs.arrays.to_unit(images.to(device)))
    return inputs.encode(crop_flip(x) if augment else x)


@torch.no_grad()
def _accuracy(model: EvalClassifier, inputs: EncodedData, device: torch.device, batch: int = 500) -> float:
    assert inputs.arrays is not None
    x, y = inputs.arrays.test_x, inputs.arrays.test_y.to(device)
    hits = sum(
        int((model(_encoded(inputs, x[s : s + batch], False, device)).argmax(1) == y[s : s + batch]).sum())
        for s in range(0, len(x), batch)
    )
    return hits / max(1, len(x))


def train_classifier(recipe: DictConfig, inputs: EncodedData, device: torch.device) -> Tuple[EvalClassifier, Dict]:
    """Cross-entropy, Adam, ``recipe.epochs`` epochs (or ``max_iters`` steps) of batches of the training set's
    images through the frozen encoder, randomly cropped and flipped when ``recipe.augment``."""
    assert inputs.arrays is not None
    arrays = inputs.arrays
    torch.manual_seed(recipe.seed)  # the caller forks the global RNG: the run's streams stay as they were
    model = EvalClassifier(inputs.dim, recipe.fc_units, arrays.n_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr, betas=(0.9, 0.999))
    per_epoch = max(1, len(arrays.train_x) // recipe.batch_size)
    total = recipe.epochs * per_epoch if recipe.max_iters is None else min(recipe.max_iters, recipe.epochs * per_epoch)
    labels = arrays.train_y.to(device)
    step, start = 0, time.time()
    while step < total:
        order = torch.randperm(len(arrays.train_x))
        for b in range(per_epoch):
            if step == total:
                break
            idx = order[b * recipe.batch_size : (b + 1) * recipe.batch_size]
            with torch.no_grad():
                h = _encoded(inputs, arrays.train_x[idx], recipe.augment, device)
            loss = F.cross_entropy(model(h), labels[idx.to(device)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    model.eval()
    acc = _accuracy(model, inputs, device)
    log.info("trained the evaluation classifier: %d steps, test accuracy %.2f%%", step, 100 * acc)
    summary = {
        "steps": step,
        "test_accuracy": acc,
        "seconds": round(time.time() - start, 1),
        "recipe": OmegaConf.to_container(recipe, resolve=True),
    }
    return model, summary


def load_or_train(
    recipe: DictConfig, inputs: EncodedData, cache_dir: str, device: torch.device, train: bool
) -> Tuple[EvalClassifier | None, Dict[str, Any]]:
    """(classifier, what happened): the cached one, else (when ``train``) a freshly trained and cached one, else
    None. ``what happened`` says which, and the cache file."""
    assert inputs.arrays is not None
    path = cache_path(recipe, inputs, cache_dir)
    if not train and not os.path.isfile(path):
        return None, {"classifier": path, "classifier_trained": False}
    trained: Dict[str, Any] = {}

    def build() -> None:
        with torch.enable_grad():  # the evaluation runs under no_grad
            model, summary = train_classifier(recipe, inputs, device)
        write_json(os.path.splitext(path)[0] + ".json", summary)
        state = {k: v.cpu() for k, v in model.state_dict().items()}
        atomic_write(path, lambda tmp: torch.save({"state": state}, tmp))
        trained.update(model=model, accuracy=summary["test_accuracy"])

    # parallel runs on a fresh cache: one trains, the others wait and load
    if build_once(path, build):
        return trained["model"], {
            "classifier": path,
            "classifier_trained": True,
            "classifier_test_accuracy": trained["accuracy"],
        }
    model = EvalClassifier(inputs.dim, recipe.fc_units, inputs.arrays.n_classes).to(device)
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True)["state"])
    return model.eval(), {"classifier": path, "classifier_trained": False}
