"""The sections of what a run measures beside its training (``diagnostics`` after each task, ``eval_gen`` after the
last): part of the typed schema (birsweep/schema.py); they never alter the numbers a run produces (config_keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from birsweep.declare import bounded, one_of


@dataclass
class DiagnosticsConfig:
    """What exaggeration is meant to change, measured after each task (docs/analysis.md); never alters results."""

    enabled: bool = True
    top_pairs: int = bounded(5, 1)  # most confused pairs of old classes recorded per task
    replay_per_class: int = bounded(100, 0)  # generated samples per class for replay recognisability; 0 skips it


@dataclass
class EvalClassifierConfig:
    # recipe of the evaluation classifier for IS/FID/PR (upstream "f20"; docs/method.md, Generator evaluation)
    epochs: int = bounded(20, 1)
    batch_size: int = 256
    lr: float = 1e-4
    augment: bool = True  # random crop (pad 4) + horizontal flip, as the f20 recipe
    fc_units: int = 2000  # fcE in -> units -> units, then a linear layer to the classes
    seed: int = 0
    max_iters: Optional[int] = bounded(None, 1)  # cap on the steps (tests, quick checks); part of the cache key


@dataclass
class EvalGenConfig:
    """Generator evaluation after the last task (docs/method.md, Generator evaluation); never alters results."""

    enabled: bool = True  # log-likelihood and reconstruction error of the run's generator
    samples: int = bounded(100, 1)  # importance samples per test sample (upstream S = 100)
    n_test: Optional[int] = bounded(None, 1)  # test samples evaluated (a random subset); null = all tasks trained
    rows_per_pass: int = bounded(25600, 1)  # decoder rows per batched pass (memory, not results)
    # IS, FID, precision-recall (conv models): auto = when the evaluation classifier is cached | true = train it
    # once if needed | false = never
    classifier_metrics: str = one_of("auto", "auto", "true", "false")
    n_generated: Optional[int] = bounded(None, 2)  # generated samples for IS/FID/PR; null = as many as test samples
    classifier: EvalClassifierConfig = field(default_factory=EvalClassifierConfig)
