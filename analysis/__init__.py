"""Results as pandas DataFrames, comparison reports and plots (docs/analysis.md).

    import analysis
    runs = analysis.load_runs("multirun/repulsion-digits")     # one row per run (config, status, metrics, trial)
    tasks = analysis.load_tasks("multirun/repulsion-digits")   # one row per run x task
    trials = analysis.load_study("multirun/repulsion-digits")  # the Optuna trials, intermediate values included
    analysis.compare(analysis.add_labels(runs))                # mean ± s.e.m. over seeds per configuration
    pairs = analysis.load_diagnostics("multirun/repulsion-digits")  # competing pairs per run x task (kind=...)

``python -m analysis.report <dirs> -o report.html`` writes the HTML report.
"""

from analysis.compare import add_labels, best_trial, compare, mean_matrix, task_curves
from analysis.diagnostics import load_diagnostics
from analysis.runs import find_records, load_losses, load_runs, load_tasks
from analysis.study import find_studies, intermediate_long, load_study
from analysis.wandb_api import WandbUnavailable, load_wandb, load_wandb_offline
from analysis.wandb_reports import wandb_report


def build_report(*args, **kwargs):
    """Write the HTML comparison report; see :func:`analysis.report.build_report`."""
    from analysis.report import build_report as build

    return build(*args, **kwargs)


__all__ = [
    "load_runs",
    "load_tasks",
    "load_losses",
    "load_diagnostics",
    "load_study",
    "load_wandb",
    "load_wandb_offline",
    "find_records",
    "find_studies",
    "intermediate_long",
    "add_labels",
    "compare",
    "task_curves",
    "mean_matrix",
    "best_trial",
    "wandb_report",
    "build_report",
    "WandbUnavailable",
]
