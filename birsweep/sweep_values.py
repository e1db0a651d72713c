"""Every value a command-line sweep lists is checked before the sweep writes anything (``multirun.yaml``, a job dir).

Hydra composes each job's config only when it launches that job, so ``-m trainer.iters=100,abc`` or
``-m variant=repulsion,recn`` would run the first job, maybe for an hour, and only then fail on the second, after
``multirun.yaml`` was written. Here each listed value is tried once, the other swept config groups at their first
option: a config-group option by composing the whole config as the job would (an option may lack a key another
override sets), a plain value by applying it to that config as Hydra applies overrides. Each config then passes the
checks a job runs first (birsweep/config_check.py: ranges, choices, keys added with ``+``). An error is Hydra's own
or a ConfigError, which ``launch.py`` turns into one line (birsweep/hydra_errors.py). Interval sweeps
(``interval(0.1, 1)``) are the sampler's to draw; the sweeper's search space checks them.
"""

from __future__ import annotations

import copy
from typing import List, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from birsweep.config_check import check_config


def _split(task: List[str], parser: OverridesParser) -> Tuple[List[str], List[Tuple[str, List[str]]]]:
    """The fixed overrides, and each discrete sweep as (key or group, its values as override text)."""
    fixed: List[str] = []
    sweeps: List[Tuple[str, List[str]]] = []
    for override in parser.parse_overrides(task):
        if not override.is_sweep_override():
            fixed.append(str(override.input_line))
        elif override.is_discrete_sweep():
            element = override.get_key_element()
            sweeps.append((override.key_or_group, [f"{element}={v}" for v in override.sweep_string_iterator()]))
    return fixed, sweeps


def check_sweep_values(config: DictConfig) -> None:
    """Raise Hydra's error for the first listed value that does not compose (the sweep's own config: ``config``)."""
    task = [str(t) for t in OmegaConf.to_container(config.hydra.overrides.task, resolve=False) or []]
    parser = OverridesParser.create()
    fixed, sweeps = _split(task, parser)
    if not sweeps or not GlobalHydra.instance().is_initialized():
        return
    loader = GlobalHydra.instance().config_loader()
    groups = [i for i, (key, _) in enumerate(sweeps) if loader.get_group_options(key)]
    first = {i: sweeps[i][1][0] for i in groups}
    base = _job(loader.load_sweep_config(config, fixed + list(first.values())))
    check_config(base)
    for i in groups:  # a config group: its option decides which keys exist, so compose as the job would
        for value in sweeps[i][1][1:]:
            check_config(
                _job(loader.load_sweep_config(config, fixed + [value if j == i else v for j, v in first.items()]))
            )
    for i, (_, values) in enumerate(sweeps):
        for value in values if i not in groups else []:  # a plain value: applied as Hydra applies overrides
            job = copy.deepcopy(base)
            ConfigLoaderImpl._apply_overrides_to_config(parser.parse_overrides([value]), job)
            check_config(job)  # the checks a job runs first (birsweep/config_check.py)


def _job(config: DictConfig) -> DictConfig:
    """A composed config as its job sees it: without ``hydra`` (Hydra's run_job drops it the same way)."""
    with open_dict(config):
        del config["hydra"]
    return config
