"""``task=campaign`` (docs/results.md): several studies and one answer, as one command a re-run resumes.

``python launch.py experiment=fmnist_exaggeration`` runs each study named in ``campaign.studies`` (an
``hparams_search`` option) one after another, then writes one report over ``campaign.dir``. A study is the
ordinary ``launch.py`` multirun, in a child process given the campaign's own overrides plus
``hparams_search=<study> task=train``: it resumes as any study does (finished trials and completed confirmation
runs are kept), so the campaign only orders the studies and needs no state of its own. The studies' presets put
their baselines in one ``confirm.baseline_dir``, so the baseline runs once for all of them
(birsweep/sweep/confirm/plan.py).

* Checked before anything runs: every study composes and passes the config check (one line, exit 2).
* A stop signal (SIGTERM, SIGINT) is passed on to the study in flight and its jobs, which record themselves
  ``interrupted``; the campaign then stops as a run does (exit 128 + the signal). On the re-run the study closes
  those trials as cut short (they do not count toward ``n_trials``) and runs them again (``retry_failed``).
* A study that ends with an error stops the campaign with one line naming it; re-running the same command resumes
  from there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from typing import List, Optional, Sequence

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from birsweep.errors import BirsweepError, ConfigError, RunInterrupted, first_line

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class CampaignError(BirsweepError):
    """A study of the campaign stopped with an error."""


def study_overrides(task_overrides: Sequence[str], hydra_overrides: Sequence[str], study: str) -> List[str]:
    """A study's command line: the campaign's overrides (its own ``task`` and ``hydra.run.*`` left out), then the
    study's preset and ``task=train``."""
    kept = [o for o in task_overrides if o.split("=", 1)[0].lstrip("+~") not in ("task", "hparams_search")]
    kept += [o for o in hydra_overrides if not o.startswith(("hydra.run.", "hydra.mode"))]
    return [*kept, f"hparams_search={study}", "task=train"]


def check_studies(cfg: DictConfig, commands: Sequence[List[str]]) -> None:
    """Every study composes (Hydra's compose API, in this process) and passes the config check."""
    from hydra import compose

    from birsweep.config_check import check_config

    if not cfg.campaign.studies:
        raise ConfigError("task=campaign needs campaign.studies: a list of hparams_search options to run")
    if not cfg.campaign.dir:
        raise ConfigError("task=campaign needs campaign.dir: where its studies and report go")
    for study, overrides in zip(cfg.campaign.studies, commands):
        try:
            check_config(compose(config_name="config", overrides=[o for o in overrides if not o.startswith("hydra")]))
        except Exception as err:  # Hydra's composition errors and ours, as one line
            raise ConfigError(f"campaign study {study!r} does not compose ({first_line(err)})") from None


def run_child(command: List[str], cwd: str) -> int:
    """Run one study to its end, in a process group of its own; a stop signal to this process is passed on to the
    whole group (the sweep and its jobs, so each job records itself ``interrupted`` with its checkpoint, as under
    Ctrl-C in a terminal), then raised here once the study has ended."""
    child = subprocess.Popen(command, cwd=cwd, start_new_session=True)
    caught: List[int] = []

    def forward(signum: int, _frame: object) -> None:
        caught.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise RunInterrupted(caught[0])
    return code


def run_campaign(cfg: DictConfig, launch: Optional[str] = None) -> float:
    """Run the studies, then the report; 0.0 (a campaign has no objective of its own)."""
    hc = HydraConfig.get()
    cwd = hc.runtime.cwd
    launch = launch or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "launch.py")
    task, hydra_side = list(hc.overrides.task), list(hc.overrides.hydra)
    commands = [study_overrides(task, hydra_side, str(s)) for s in cfg.campaign.studies]
    check_studies(cfg, commands)
    campaign_dir = os.path.join(cwd, str(cfg.campaign.dir))
    for i, (study, overrides) in enumerate(zip(cfg.campaign.studies, commands), start=1):
        log.info("campaign: study %d of %d, %s: %s", i, len(commands), study, " ".join(overrides))
        code = run_child([sys.executable, launch, *overrides], cwd)
        if code != 0:
            raise CampaignError(
                f"campaign study {study!r} stopped with exit code {code} (its lines above say why); "
                "run the same command again to resume it"
            )
    report = os.path.join(campaign_dir, "report.html")
    code = run_child([sys.executable, "-m", "analysis.report", campaign_dir, "-o", report], os.path.dirname(launch))
    if code != 0:
        raise CampaignError(f"the campaign's report failed (exit code {code}); its studies are complete")
    print(f"campaign: {len(commands)} studies complete; report: {report}")
    return 0.0
