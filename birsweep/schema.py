"""Typed schema of the whole configuration, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` is merged into these dataclasses, so a misspelt key or a value of the
wrong type fails at start-up with Hydra's one-line message. Value ranges and choices are checked by
:func:`birsweep.config_check.check_config`, which runs before any work starts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, make_dataclass
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Type, cast

from hydra.core.config_store import ConfigStore

if TYPE_CHECKING:
    from birsweep.methods.term_registry import TermSpec
from birsweep.methods.method_registry import SharedMethodConfig
from birsweep.naming import register_resolvers


@dataclass
class PathsConfig:
    data_dir: str = "data"  # where datasets live or are downloaded to
    cache_dir: str = ".cache/birsweep"  # pre-trained encoders and frozen-feature caches
    runs_dir: str = "outputs"  # root of single runs' output dirs (hydra.run.dir)
    sweeps_dir: str = "multirun"  # root of sweeps' and studies' output dirs (hydra.sweep.dir)


@dataclass
class SyntheticConfig:
    shape: List[int] = field(default_factory=lambda: [1, 8, 8])  # C x H x W of one sample
    n_classes: int = 10
    train_per_class: int = 100
    test_per_class: int = 20
    noise: float = 0.5  # std of the per-sample noise around each class prototype
    data_seed: int = 0  # the data are a fixed dataset: they do not change with the run's seed


@dataclass
class DataConfig:
    name: str = "cifar100"  # cifar100 | cifar10 | mnist | fashion_mnist | digits | synthetic
    root: str = "${paths.data_dir}"
    download: bool = True  # fetch with torchvision when the files are missing (needs internet)
    n_tasks: int = 10  # class-incremental tasks of equal class count
    natural_order_below_seed: int = 0  # seeds below this keep the natural class order (upstream splitMNIST: 10)
    normalize: bool = True  # CIFAR per-channel normalisation with the dataset's statistics
    augment: bool = False  # upstream random crop (pad 4, symmetric) + horizontal flip of current images
    # share of each class's training samples held out for validation; > 0: sweeps tune on it (docs/sweeps.md)
    val_fraction: float = 0.0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class PretrainConfig:
    # recipe of the CIFAR-10 pre-training of the conv encoder (docs/method.md, Encoder pre-training)
    dataset: str = "cifar10"
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-4
    augment: bool = True  # the paper's recipe (main_pretrain.py --augment): random crop (pad 4) + horizontal flip
    seed: int = 0
    max_iters: Optional[int] = None  # cap on optimiser steps (tests, quick looks); null = all epochs


@dataclass
class EncoderConfig:
    type: str = "conv"  # conv: frozen pre-trained C3-5x16-bn, features replayed (internal replay) | none: pixels
    depth: int = 5
    channels: int = 16
    weights: str = "pretrain"  # pretrain (cached CIFAR-10 pre-training) | random | path to a weights file
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


@dataclass
class AblationDgProp:
    """dg_prop of each BI-R ablation with gates (upstream compare_CIFAR100_bir.py, class-IL; docs/method.md,
    Ablations). Upstream has no splitMNIST ablation script: the MLP protocol uses these CIFAR-100 values too."""

    bir: float = 0.7
    no_feedback: float = 0.7
    no_conditional: float = 0.6
    no_internal: float = 0.9
    no_distill: float = 0.8
    sgr_gating: float = 0.7


@dataclass
class TunedConfig:
    # upstream's grid-searched class-IL values for a protocol (options.py set_defaults), read by conf/method/*.yaml
    si_c: float = 1.0  # SI without replay
    ewc_lambda: float = 1.0  # EWC
    bir_dg_prop: float = 0.7  # BI-R without SI (the model's dg_prop is BI-R + SI's)
    ablation: AblationDgProp = field(default_factory=AblationDgProp)  # read by conf/ablation/*.yaml


@dataclass
class ModelConfig:
    name: str = "bir_conv"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    fc_layers: int = 3  # fc layers counting the latent/classifier layer: 3 = two hidden layers
    fc_units: int = 2000
    h_dim: int = 2000
    z_dim: int = 100
    recon: str = "mse"  # mse (Gaussian, hidden features) | bce (Bernoulli, pixels in [0, 1])
    dg_prop: float = 0.6  # probability that a decoder unit is gated off for a class
    distill_temp: float = 2.0
    si_c: float = 1e8  # SI strength of every method; 0 = off (the method files set it)
    si_epsilon: float = 0.1
    tuned: TunedConfig = field(default_factory=TunedConfig)


def compose_method_config() -> Type[SharedMethodConfig]:
    """The ``method`` section: the keys every method has plus each registered method's own keys (flat), as their
    modules declare them (birsweep/methods/method_registry.py; docs/method.md, Adding a method)."""
    from birsweep.methods.method_registry import compose_method_config as composed

    return composed()


MethodConfig = compose_method_config()


@dataclass
class TrainerConfig:
    iters: int = 5000  # optimiser steps per task
    batch_size: int = 256
    batch_replay: Optional[int] = None  # replayed samples per step; null = batch_size
    lr: float = 1e-4
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "32"  # 32 | bf16 (autocast)
    compile: str = "off"  # off | forward (torch.compile the fused forward) | step (the whole step); true = forward
    threads: Optional[int] = None  # torch CPU threads; null = torch's default
    log_every: int = 100  # iterations between loss records (and the only host syncs of the loop)
    eval_batch: int = 1024
    progress: bool = True  # tqdm progress bar
    # train only the first N tasks of the protocol (quick checks, benchmarks); null = all. The record says so:
    # n_tasks = N, protocol_tasks = data.n_tasks
    max_tasks: Optional[int] = None
    # train only the last task (upstream --only-last: the ablations' "only last task" reference, with method=none);
    # the earlier tasks get no iterations but are evaluated
    only_last: bool = False


@dataclass
class SharedVariantConfig:
    """The variant keys that belong to no single loss term; each term adds its own section (see VariantConfig)."""

    name: str = "baseline"
    use_rep_f: bool = False  # restrict repulsion to confusable replayed samples: p(c0) < rep_f * p(c1), at T = 1
    rep_f: float = 20.0  # repulsion factor f (fork default)


def compose_variant_config() -> Type[SharedVariantConfig]:
    """The shared keys plus one typed section ``<term>`` per registered loss term, in the step's order.

    The term configs live in their modules (``birsweep.methods``), which register themselves; importing them
    costs torch but builds nothing.
    """
    from birsweep.methods.term_registry import term_specs

    return _composed(tuple(term_specs()))


@functools.cache
def _composed(specs: Tuple[TermSpec[Any], ...]) -> Type[SharedVariantConfig]:
    # one class per set of terms, so the class a config was made with stays the one found by name
    sections = [(spec.name, spec.config, field(default_factory=spec.config)) for spec in specs]
    composed = make_dataclass("VariantConfig", sections, bases=(SharedVariantConfig,))
    composed.__module__ = __name__  # found by name when a launcher pickles a composed config
    return cast(Type[SharedVariantConfig], composed)


VariantConfig = compose_variant_config()


@dataclass
class LoggerConfig:
    name: str = "none"  # wandb | none (the local run record is always written)
    mode: str = "offline"  # offline (no account or network; `wandb sync` later) | online | disabled
    project: str = "birsweep"
    entity: Optional[str] = None  # W&B user or team; null = the account's default
    group: Optional[str] = None  # null = study name in a sweep, else the experiment name
    job_type: Optional[str] = None  # null = variant name
    tags: List[str] = field(default_factory=list)  # added to the automatic ones (variant, data, sweep)
    # run name; fields: method (method.name), variant, seed, trial ("-t<number>" in a sweep,
    # else ""), experiment, data, study
    name_format: str = "{method}-{variant}-s{seed}{trial}"
    notes: Optional[str] = None
    dir: Optional[str] = None  # parent of W&B's "wandb/" folder; null = the Hydra job dir
    log_samples: bool = True  # after each task: replayed images (pixel models) or latent prior statistics
    samples_per_class: int = 8  # images per class in the replay grid
    init_timeout: float = 30.0  # seconds W&B may take to start a run online; then the run goes on offline
    silent: bool = True  # W&B's console banners off: a sweep's console shows the trials' own lines


@dataclass
class TrialConfig:
    """Filled in by the Optuna sweeper for each job: who the trial is and where its study lives.

    The job reports its average accuracy after every task to this trial and stops when ``pruner`` (rebuilt here
    from its ``_target_`` config: Optuna does not store pruners) says so. A job gets it as ``+optuna=trial``
    followed by ``optuna.<field>=...`` overrides (the group is registered by ``birsweep.sweep``).
    """

    storage: str = "???"  # database URL or journal file (.log); may be an ${oc.env:...} interpolation
    study_name: str = "???"
    trial_number: int = -1
    pruner: Any = None  # _target_ config of an optuna pruner; null = never prune
    params: Any = None  # the sampled parameters, {override key: value} (for the record; the overrides set them)
    owner: Optional[str] = None  # "host|pid|start" of the sweep process; the job stops if it is gone
    batch: Any = None  # trials_per_job > 1: [{number, params}] of every trial this job trains (docs/sweeps.md)
    # liveness across hosts (docs/sweeps.md): the job stops at a task end once the sweep's heartbeat has not
    # changed for sweep_lost_after s; jobs of the SLURM presets beat job_heartbeat every heartbeat_interval s
    sweep_lost_after: Optional[float] = None
    heartbeat_interval: Optional[float] = None


@dataclass
class ConfirmRunConfig:
    """Filled in by the sweeper for a confirmation run (``+confirm=run confirm.arm=...``): which configuration it
    confirms on which fresh seed; the record keeps it as ``confirm`` (birsweep/sweep/confirm.py)."""

    arm: str = "???"  # "trial <number>" (a searched configuration) or "baseline"
    rank: int = 0  # the trial's rank in the search (1 = best); 0 for the baseline
    params: Any = None  # the trial's searched parameters, {override key: value}; null for the baseline
    seed: int = -1  # the run's seed (= seed)


@dataclass
class DiagnosticsConfig:
    """What exaggeration is meant to change, measured after each task (docs/analysis.md); never alters results."""

    enabled: bool = True
    top_pairs: int = 5  # most confused pairs of old classes recorded per task
    replay_per_class: int = 100  # generated samples per class for replay recognisability; 0 skips it


@dataclass
class EvalClassifierConfig:
    # recipe of the evaluation classifier for IS/FID/PR (upstream "f20"; docs/method.md, Generator evaluation)
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-4
    augment: bool = True  # random crop (pad 4) + horizontal flip, as the f20 recipe
    fc_units: int = 2000  # fcE in -> units -> units, then a linear layer to the classes
    seed: int = 0
    max_iters: Optional[int] = None  # cap on the steps (tests, quick checks); part of the cache key


@dataclass
class EvalGenConfig:
    """Generator evaluation after the last task (docs/method.md, Generator evaluation); never alters results."""

    enabled: bool = True  # log-likelihood and reconstruction error of the run's generator
    samples: int = 100  # importance samples per test sample (upstream S = 100)
    n_test: Optional[int] = None  # test samples evaluated (a random subset); null = all of the tasks trained
    rows_per_pass: int = 25600  # decoder rows per batched pass (memory, not results)
    # IS, FID, precision-recall (conv models): auto = when the evaluation classifier is cached | true = train it
    # once if needed | false = never
    classifier_metrics: str = "auto"
    n_generated: Optional[int] = None  # generated samples for IS/FID/PR; null = as many as test samples
    classifier: EvalClassifierConfig = field(default_factory=EvalClassifierConfig)


@dataclass
class Config:
    task: str = "train"  # train | pretrain
    seed: int = 0
    resume: str = "auto"  # auto (continue if a checkpoint is in the run dir) | true (must) | false (start over)
    experiment_name: str = "default"
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: SharedMethodConfig = field(default_factory=lambda: MethodConfig())  # composed
    variant: SharedVariantConfig = field(default_factory=lambda: VariantConfig())  # composed
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    eval_gen: EvalGenConfig = field(default_factory=EvalGenConfig)
    optuna: Optional[TrialConfig] = None
    confirm: Optional[ConfirmRunConfig] = None  # set by the sweeper's confirmation stage only


def register_configs() -> None:
    """Store the schema; terms and methods registered after this module was imported (a plug-in, a test) join it
    here."""
    global VariantConfig, MethodConfig
    VariantConfig = compose_variant_config()
    MethodConfig = compose_method_config()
    register_resolvers()  # configs stored before the method group use ${method:...}
    ConfigStore.instance().store(name="birsweep_schema", node=Config)
