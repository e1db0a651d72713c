"""The generator evaluation of a finished run (docs/method.md, Generator evaluation): which generator the method has
(BI-R's network, or GR's separate generator), the test samples of the tasks trained, and the record's entry."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Protocol, Union

import torch
from omegaconf import DictConfig
from torch import nn

from birsweep.data.features import Inputs
from birsweep.data.images import ImageInputs
from birsweep.data.stream import ClassIncrementalStream
from birsweep.gen_eval.evaluate import Subject, evaluate
from birsweep.gen_eval.feature_space import FeatureSpace, hidden_space, image_space
from birsweep.gen_eval.views import bir_view, vae_view
from birsweep.methods.method_api import MethodHooks
from birsweep.models.bir import BIRNet
from birsweep.models.classifier import Classifier
from birsweep.models.encoder import ConvEncoder
from birsweep.models.vae import VAEGenerator

log = logging.getLogger(__name__)


class Run(Protocol):
    """What the evaluation reads of a finished run (birsweep.train.loop.run.Run)."""

    cfg: DictConfig
    model: Union[BIRNet, Classifier]
    hooks: MethodHooks
    encoder: Optional[ConvEncoder]
    inputs: Union[Inputs, ImageInputs]
    stream: ClassIncrementalStream
    test_idx: List[torch.Tensor]
    test_y: torch.Tensor
    n_tasks: int
    device: torch.device


def _subject(generator: Optional[nn.Module]) -> Subject | None:
    """How the method's generator is scored: BI-R's network (or BI-R's separate generator), or a plain VAE."""
    if isinstance(generator, BIRNet):
        bir = generator

        def sample_bir(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            return bir.generate(labels, generator=gen)

        return Subject(bir_view(bir), sample_bir)
    if not isinstance(generator, VAEGenerator):
        return None
    vae = generator

    def sample_vae(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        z = torch.randn(len(labels), vae.z_dim, generator=gen, device=gen.device).to(vae.out.weight)
        recon = vae.decode(z)
        return torch.sigmoid(recon) if vae.bce else recon

    return Subject(vae_view(vae), sample_vae)


def evaluate_generator(run: Run) -> Dict[str, Any]:
    """The record's ``generator_eval``: the figures, or ``{"skipped": why}``."""
    cfg = run.cfg
    if not cfg.eval_gen.enabled:
        return {"skipped": "eval_gen.enabled=false"}
    generator = run.hooks.generator(run.model)
    subject = _subject(generator)
    if subject is None:
        return {"skipped": f"method {cfg.method.name} has no generator"}
    rows = torch.cat(run.test_idx[: run.n_tasks])
    log.info("evaluating the generator on %d test samples (eval_gen)", len(rows))
    modules = [run.model] + ([] if generator is None or generator is run.model else [generator])
    training = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        return _evaluate(run, subject)
    except Exception as err:  # the training is done and kept: a broken evaluation is reported, not fatal
        log.warning("the generator evaluation failed: %s: %s", type(err).__name__, err)
        return {"skipped": f"the evaluation failed: {type(err).__name__}: {err}"}
    finally:
        for m, mode in zip(modules, training):
            m.train(mode)


def feature_space(run: Run) -> FeatureSpace | str:
    """Where IS, FID and precision-recall are computed for this run (the frozen encoder's features, reached from
    hidden features or from images), or why they are not (pixel models)."""
    if run.cfg.model.encoder.type != "conv" or run.encoder is None:
        return (
            "IS, FID and precision-recall are for conv models (CIFAR): the evaluation classifier reads the "
            "pre-trained conv encoder's features"
        )
    if isinstance(run.inputs, Inputs):
        return hidden_space(run.inputs)
    return image_space(run.inputs, run.encoder)


def _evaluate(run: Run, subject: Subject) -> Dict[str, Any]:
    cfg, rows = run.cfg, torch.cat(run.test_idx[: run.n_tasks])
    return evaluate(
        cfg.eval_gen,
        subject,
        feature_space(run),
        run.inputs.test[rows],
        run.test_y[rows],
        run.stream.classes_seen(run.n_tasks),
        cfg.paths.cache_dir,
        run.device,
        int(cfg.seed),
    )
