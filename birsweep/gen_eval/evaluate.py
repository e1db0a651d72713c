"""The generator evaluation of one run after its last task: what is computed, on which samples, and what is skipped
and why (docs/method.md, Generator evaluation). Everything random here comes from a private generator, and the
global RNG is forked, so the run's training and its numbers are the same with the evaluation on or off."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict

import numpy as np
import torch
from omegaconf import DictConfig
from torch.nn import functional as F

from birsweep.gen_eval.classifier import EvalClassifier, load_or_train
from birsweep.gen_eval.feature_space import FeatureSpace
from birsweep.gen_eval.loglik import log_likelihood, recon_error
from birsweep.gen_eval.prd import prd_from_embeddings
from birsweep.gen_eval.scores import frechet_distance, inception_score
from birsweep.gen_eval.views import GenerativeView


@dataclass
class Subject:
    """The generator under evaluation: its view for the likelihood, and a sampler of labels -> generated inputs."""

    view: GenerativeView
    sample: Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def finite(value: float) -> float | None:
    """A figure as the record keeps it: a float, or None when it is not finite (JSON has no NaN)."""
    return value if math.isfinite(value) else None


def _mean_sd(values: torch.Tensor) -> tuple[float | None, float | None]:
    v = values.double().cpu().numpy()
    return finite(float(np.mean(v))), finite(float(np.std(v)))  # population SD, as upstream's np.sqrt(np.var(...))


def classifier_mode(cfg: DictConfig) -> str:
    return str(cfg.classifier_metrics).lower()


@torch.no_grad()
def evaluate(
    cfg: DictConfig,
    subject: Subject,
    space: FeatureSpace | str,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    n_seen: int,
    cache_dir: str,
    device: torch.device,
    seed: int,
) -> Dict[str, Any]:
    """The figures of ``eval_gen`` for test inputs ``x_test`` (labels ``y_test``, in the model's label space) of a
    model that has seen classes 0..n_seen-1. ``space`` is where IS, FID and precision-recall are computed, or why
    the run has none (pixel models)."""
    start = time.time()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        gen = torch.Generator(device=device).manual_seed(seed)
        if cfg.n_test is not None and cfg.n_test < len(x_test):
            keep = torch.randperm(len(x_test), generator=gen, device=device)[: cfg.n_test]
            x_test, y_test = x_test[keep], y_test[keep]
        ll, ll_sd = _mean_sd(log_likelihood(subject.view, x_test, y_test, cfg.samples, gen, cfg.rows_per_pass))
        re, re_sd = _mean_sd(recon_error(subject.view, x_test, y_test))
        out: Dict[str, Any] = {
            "ll": ll,
            "ll_sd": ll_sd,
            "recon_error": re,
            "recon_error_sd": re_sd,
            "n_test": len(x_test),
            "samples": cfg.samples,
        }
        if isinstance(space, str):
            out["image_metrics_skipped"] = space
        else:
            out.update(image_metrics(cfg, subject, space, x_test, n_seen, cache_dir, device, gen, seed))
    out["seconds"] = round(time.time() - start, 3)
    return out


BATCH = 1000  # generated and real samples per pass through the encoder and the classifier


def _scored(classifier: EvalClassifier, space: FeatureSpace, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """(the classifier's softmax, its fcE embedding) of model inputs ``x``, in batches."""
    probs, emb = [], []
    for s in range(0, len(x), BATCH):
        h = classifier.features(space.embed(x[s : s + BATCH]))
        probs.append(F.softmax(classifier.classifier(h), 1))
        emb.append(h)
    return torch.cat(probs), torch.cat(emb).cpu().numpy()


def image_metrics(
    cfg: DictConfig,
    subject: Subject,
    space: FeatureSpace,
    x_real: torch.Tensor,
    n_seen: int,
    cache_dir: str,
    device: torch.device,
    gen: torch.Generator,
    seed: int,
) -> Dict[str, Any]:
    """IS, FID and precision-recall on the encoder's features of generated and real test samples, or why they were
    not computed."""
    mode = classifier_mode(cfg)
    if mode == "false":
        return {"image_metrics_skipped": "eval_gen.classifier_metrics=false"}
    classifier, info = load_or_train(cfg.classifier, space.data, cache_dir, device, train=(mode == "true"))
    if classifier is None:
        return {
            **info,
            "image_metrics_skipped": "the evaluation classifier is not cached; eval_gen.classifier_metrics=true "
            "trains it once (docs/method.md, Generator evaluation)",
        }
    n_gen = len(x_real) if cfg.n_generated is None else int(cfg.n_generated)
    labels = torch.arange(n_gen, device=device) % n_seen  # every class seen, equally often
    fake = torch.cat([subject.sample(labels[s : s + BATCH], gen) for s in range(0, n_gen, BATCH)])
    probs, fake_emb = _scored(classifier, space, fake)
    _, real_np = _scored(classifier, space, x_real)
    n_pr = min(len(fake_emb), len(real_np))  # precision-recall compares equal numbers (upstream's balance)
    precision, recall = prd_from_embeddings(fake_emb[:n_pr], real_np[:n_pr], seed=seed)
    return {
        **info,
        "is": finite(inception_score(probs.cpu().numpy())),
        "fid": finite(frechet_distance(fake_emb, real_np)),
        "precision": [round(float(p), 6) for p in precision],
        "recall": [round(float(r), 6) for r in recall],
        "n_generated": n_gen,
    }
