"""Typed schema of the whole configuration, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` is merged into these dataclasses, so a misspelt key or a value of the
wrong type fails at start-up with Hydra's one-line message. Each key's range or choices is declared beside its
field (``birsweep.declare``) and checked by :func:`birsweep.config_check.check_config` before any work starts. The
``variant`` and ``data`` sections gain one typed section per registered loss term and data set.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, make_dataclass
from typing import Any, List, Optional, Tuple, Type, cast

from hydra.core.config_store import ConfigStore

from birsweep.declare import bounded, one_of, per_trial
from birsweep.methods.method_registry import SharedMethodConfig
from birsweep.naming import register_resolvers
from birsweep.schema_eval import DiagnosticsConfig, EvalGenConfig


@functools.cache
def _composed(base: type, name: str, sections: Tuple[Tuple[str, type], ...]) -> type:
    """``base`` plus one typed section per registered entry, named ``name``: one class per set of sections, so the
    class a config was made with stays the one found by name (schema.<name>) when a launcher pickles it."""
    composed = make_dataclass(name, [(n, c, field(default_factory=c)) for n, c in sections], bases=(base,))
    composed.__module__ = __name__
    return composed


@dataclass
class PathsConfig:
    data_dir: str = "data"  # where datasets live or are downloaded to
    cache_dir: str = ".cache/birsweep"  # pre-trained encoders and frozen-feature caches
    runs_dir: str = "outputs"  # root of single runs' output dirs (hydra.run.dir)
    sweeps_dir: str = "multirun"  # root of sweeps' and studies' output dirs (hydra.sweep.dir)


@dataclass
class SharedDataConfig:
    """The data keys every data set has; a data set with options adds its own section (see DataConfig)."""

    name: str = "cifar100"  # a registered data set (birsweep/data/sources.py; its choices come from there)
    root: str = "${paths.data_dir}"
    download: bool = True  # fetch with torchvision when the files are missing (needs internet)
    n_tasks: int = bounded(10, 1)  # class-incremental tasks of equal class count
    # seeds below this keep the natural class order (upstream splitMNIST: 10)
    natural_order_below_seed: int = bounded(0, 0)
    normalize: bool = True  # CIFAR per-channel normalisation with the dataset's statistics
    augment: bool = False  # upstream random crop (pad 4, symmetric) + horizontal flip of current images
    # share of each class's training samples held out for validation; > 0: sweeps tune on it (docs/sweeps.md)
    val_fraction: float = bounded(0.0, 0.0, 1.0)


def compose_data_config() -> Type[SharedDataConfig]:
    """The shared keys plus one typed section ``<name>`` per registered data set with options (``data.synthetic``)."""
    from birsweep.data.sources import data_sources

    sections = tuple((s.name, s.config) for s in data_sources() if s.config is not None)
    return cast(Type[SharedDataConfig], _composed(SharedDataConfig, "DataConfig", sections))


DataConfig = compose_data_config()


@dataclass
class PretrainConfig:
    # recipe of the CIFAR-10 pre-training of the conv encoder (docs/method.md, Encoder pre-training)
    dataset: str = "cifar10"
    epochs: int = bounded(100, 1)
    batch_size: int = bounded(256, 1)
    lr: float = bounded(1e-4, 0.0, low_inclusive=False)
    augment: bool = True  # the paper's recipe (main_pretrain.py --augment): random crop (pad 4) + horizontal flip
    seed: int = 0
    max_iters: Optional[int] = None  # cap on optimiser steps (tests, quick looks); null = all epochs


@dataclass
class EncoderConfig:
    # conv: frozen pre-trained C3-5x16-bn, features replayed (internal replay) | none: pixels
    type: str = one_of("conv", "conv", "none")
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
    fc_layers: int = bounded(3, 2)  # fc layers counting the latent/classifier layer: 3 = two hidden layers
    fc_units: int = bounded(2000, 1)
    h_dim: int = bounded(2000, 1)
    z_dim: int = bounded(100, 1)
    recon: str = one_of("mse", "mse", "bce")  # mse (Gaussian, hidden features) | bce (Bernoulli, pixels in [0, 1])
    dg_prop: float = bounded(0.6, 0.0, 1.0)  # probability that a decoder unit is gated off for a class
    distill_temp: float = bounded(2.0, 0.0, low_inclusive=False, per_trial=True)
    si_c: float = bounded(1e8, 0.0, per_trial=True)  # SI strength of every method; 0 = off (the method files set it)
    si_epsilon: float = bounded(0.1, 0.0, low_inclusive=False)
    tuned: TunedConfig = field(default_factory=TunedConfig)


def compose_method_config() -> Type[SharedMethodConfig]:
    """The ``method`` section: the keys every method has plus each registered method's own keys (flat), as their
    modules declare them (birsweep/methods/method_registry.py; docs/method.md, Adding a method)."""
    from birsweep.methods.method_registry import compose_method_config as composed

    return composed()


MethodConfig = compose_method_config()


@dataclass
class TrainerConfig:
    iters: int = bounded(5000, 1)  # optimiser steps per task
    batch_size: int = bounded(256, 1)
    batch_replay: Optional[int] = bounded(None, 1)  # replayed samples per step; null = batch_size
    lr: float = bounded(1e-4, 0.0, low_inclusive=False, per_trial=True)
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = one_of("32", "32", "bf16")  # bf16: autocast
    # off | forward (torch.compile the fused forward) | step (the whole step); true/false: the old boolean (= forward)
    compile: str = one_of("off", "off", "forward", "step", "true", "false")
    threads: Optional[int] = bounded(None, 1)  # torch CPU threads; null = torch's default
    log_every: int = bounded(100, 1)  # iterations between loss records (and the only host syncs of the loop)
    eval_batch: int = bounded(1024, 1)
    progress: bool = True  # tqdm progress bar
    # train only the first N tasks of the protocol (quick checks, benchmarks); null = all. The record says so:
    # n_tasks = N, protocol_tasks = data.n_tasks
    max_tasks: Optional[int] = bounded(None, 1)
    # train only the last task (upstream --only-last: the ablations' "only last task" reference, with method=none);
    # the earlier tasks get no iterations but are evaluated
    only_last: bool = False


@dataclass
class SharedVariantConfig:
    """The variant keys that belong to no single loss term; each term adds its own section (see VariantConfig)."""

    name: str = "baseline"
    use_rep_f: bool = False  # restrict repulsion to confusable replayed samples: p(c0) < rep_f * p(c1), at T = 1
    rep_f: float = bounded(20.0, 0.0, low_inclusive=False, per_trial=True)  # repulsion factor f (fork default)


def compose_variant_config() -> Type[SharedVariantConfig]:
    """The shared keys plus one typed section ``<term>`` per registered loss term, in the step's order.

    The term configs live in their modules (``birsweep.methods``), which register themselves; importing them
    costs torch but builds nothing.
    """
    from birsweep.methods.term_registry import term_specs

    sections = tuple((spec.name, spec.config) for spec in term_specs())
    return cast(Type[SharedVariantConfig], _composed(SharedVariantConfig, "VariantConfig", sections))


VariantConfig = compose_variant_config()


@dataclass
class LoggerConfig:
    name: str = one_of("none", "wandb", "none")  # the local run record is always written
    # offline (no account or network; `wandb sync` later) | online | disabled
    mode: str = one_of("offline", "offline", "online", "disabled")
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
    log_confusion: bool = True  # after each task: the test confusion matrix as a table and a heatmap
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
    confirms on which fresh seed; the record keeps it as ``confirm`` (birsweep/sweep/confirm/plan.py)."""

    arm: str = "???"  # "trial <number>" (a searched configuration) or "baseline"
    rank: int = 0  # the trial's rank in the search (1 = best); 0 for the baseline
    params: Any = None  # the trial's searched parameters, {override key: value}; null for the baseline
    seed: int = -1  # the run's seed (= seed)
    baseline: Optional[str] = None  # the key of the baseline this run is compared against (every arm of a stage)


@dataclass
class CampaignConfig:
    """``task=campaign``: studies run one after another, then one report over them (birsweep/campaign.py;
    docs/results.md)."""

    studies: List[str] = field(default_factory=list)  # hparams_search options, each one study
    dir: str = "${paths.sweeps_dir}"  # the studies' sweep dirs, their shared baseline runs and the report go here
    n_trials: int = bounded(12, 1)  # finished search trials per study (the studies' presets read it)
    seeds: int = bounded(5, 1)  # fresh confirmation seeds (the studies' presets read it)


@dataclass
class Config:
    task: str = one_of("train", "train", "pretrain", "campaign")
    seed: int = per_trial(0)  # class order, initialisation, replay sampling and data order
    # auto (continue if a checkpoint is in the run dir) | true (must) | false (start over)
    resume: str = one_of("auto", "auto", "true", "false")
    experiment_name: str = "default"
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: SharedDataConfig = field(default_factory=lambda: DataConfig())  # composed
    model: ModelConfig = field(default_factory=ModelConfig)
    method: SharedMethodConfig = field(default_factory=lambda: MethodConfig())  # composed
    variant: SharedVariantConfig = field(default_factory=lambda: VariantConfig())  # composed
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    eval_gen: EvalGenConfig = field(default_factory=EvalGenConfig)
    optuna: Optional[TrialConfig] = None
    confirm: Optional[ConfirmRunConfig] = None  # set by the sweeper's confirmation stage only
    campaign: CampaignConfig = field(default_factory=CampaignConfig)


def schema_sections() -> Tuple[Tuple[str, type], ...]:
    """The schema's dataclasses with the prefix of their keys: the whole config, and the sections composed from the
    registries (the whole config's annotations name only their shared bases)."""
    return (("", Config), ("data.", DataConfig), ("method.", MethodConfig), ("variant.", VariantConfig))


def register_configs() -> None:
    """Store the schema; terms, methods and data sets registered after this module was imported (a plug-in, a
    test) join it here."""
    global VariantConfig, DataConfig, MethodConfig
    VariantConfig, DataConfig, MethodConfig = compose_variant_config(), compose_data_config(), compose_method_config()
    register_resolvers()  # configs stored before the method group use ${method:...}
    ConfigStore.instance().store(name="birsweep_schema", node=Config)
