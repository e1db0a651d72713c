"""Standard generative replay (upstream ``--replay=generative``; docs/method.md, Methods: GR): a plain classifier and
a separate VAE generator (standard normal prior, no gates, the classifier's fc sizes: upstream's g_* defaults)
trained in the same loop; replay is labelled by the previous classifier (method.targets, hard in gr.yaml)."""

from __future__ import annotations

from typing import Dict

from torch import nn

from birsweep.methods.classifier_method import ClassifierParts, GeneratorHooks, Trainer
from birsweep.methods.gr import GeneratorTrainer
from birsweep.methods.method_api import Built, NoKeys, Toolkit
from birsweep.methods.method_registry import MethodSpec, register_method
from birsweep.models.vae import VAEGenerator


def separate_vae(tk: Toolkit, parts: Dict[str, nn.Module]) -> Trainer:
    m = tk.cfg.model
    bce = m.recon == "bce"
    gen = VAEGenerator(tk.inputs.dim, m.fc_layers, m.fc_units, m.h_dim, m.z_dim, bce, **parts).to(tk.device)
    return GeneratorTrainer(gen, tk.adam(gen.parameters()), tk.inputs.n_pixels)


def build(tk: Toolkit) -> Built:
    parts = ClassifierParts(tk, make_generator=separate_vae)
    assert parts.generator is not None
    return parts.built(GeneratorHooks(parts.generator))


register_method(MethodSpec("gr", "Generative Replay (GR)", NoKeys, build, order=50))
