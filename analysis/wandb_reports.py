"""A W&B Report with the comparisons of :mod:`analysis.report`, built with wandb-workspaces (optional extra:
``pip install 'birsweep[reports]'``).

    from analysis import wandb_report
    report = wandb_report("birsweep", entity="my-team", group="repulsion-digits", sweep="multirun/repulsion-digits")
    report.save()      # needs network and a login; building the report does not

Panels, per W&B run group (the study in a sweep, else the experiment) with runs grouped by job type (= variant):
final average accuracy / forgetting / BWT as bars (mean ± s.e.m.), average accuracy after each task (lines with
error bands), the accuracy-matrix heatmaps and tables, and for a study: objective per trial, parameter importance
and parallel coordinates over the searched parameters, and a run comparer.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from birsweep.sweep.labels import short_names

METRIC = "final_avg_acc"


def _require():
    try:
        import wandb_workspaces.reports.v2 as wr
        from wandb_workspaces import expr
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("analysis.wandb_report needs wandb-workspaces: pip install 'birsweep[reports]'") from err
    return wr, expr


def wandb_report(
    project: str,
    entity: str,
    group: Optional[str] = None,
    params: Sequence[str] = (),
    sweep: Optional[str] = None,
    title: Optional[str] = None,
    description: Optional[str] = None,
    n_tasks: Optional[int] = None,
    save: bool = False,
):
    """Build (and with ``save=True`` publish) the report; returns the ``wandb_workspaces`` Report.

    ``group``: the W&B run group to show (default all runs of the project). ``params``: searched parameters as
    config keys (``variant.repulsion.lamda_rep``) for the study panels. ``sweep``: a local sweep dir to take the
    group (study name) and the searched parameters from when they are not given.
    """
    wr, expr = _require()
    if sweep is not None:
        from analysis.runs import load_runs

        runs = load_runs(sweep)
        if group is None and runs["study_name"].notna().any():
            group = str(runs["study_name"].dropna().iloc[0])
        elif group is None and runs["experiment"].notna().any():
            group = str(runs["experiment"].dropna().iloc[0])
        if not params:
            params = [c[len("params.") :] for c in runs.columns if c.startswith("params.")]
        if n_tasks is None and runs["n_tasks"].notna().any():
            n_tasks = int(runs["n_tasks"].max())
    params = list(params)
    filters = [expr.Metric("group") == group] if group else []
    name = group or project

    def runset():
        return wr.Runset(entity=entity, project=project, name=name, filters=filters, groupby=["JobType"])

    def bars(key: str, label: str):
        return wr.BarPlot(
            title=label,
            metrics=[wr.SummaryMetric(key)],
            groupby="JobType",
            groupby_aggfunc="mean",
            groupby_rangefunc="stderr",
            orientation="h",
        )

    blocks = [
        wr.H1(text=title or f"birsweep: {name}"),
        wr.P(
            text=description
            or (
                f"Class-incremental BI-R variants in W&B project {entity}/{project}"
                + (f", group {group}" if group else "")
                + ". Runs are grouped by job type (the variant); bars and bands are mean ± "
                "s.e.m. over the runs of a variant (seeds or trials)."
            )
        ),
        wr.TableOfContents(),
        wr.H2(text="Variants"),
        wr.PanelGrid(
            runsets=[runset()],
            panels=[
                bars(METRIC, "final average accuracy"),
                bars("forgetting", "forgetting"),
                bars("bwt", "BWT"),
                wr.LinePlot(
                    title="average accuracy after each task",
                    x="task",
                    y=["acc/avg"],
                    groupby="JobType",
                    groupby_aggfunc="mean",
                    groupby_rangefunc="stderr",
                    title_x="task",
                    title_y="average accuracy",
                    range_y=(0, 1),
                ),
            ],
        ),
        wr.H2(text="Accuracy per task"),
        wr.PanelGrid(
            runsets=[runset()],
            panels=[
                wr.LinePlot(
                    title=f"accuracy on task {k} after each task",
                    x="task",
                    y=[f"acc/task_{k}"],
                    groupby="JobType",
                    groupby_aggfunc="mean",
                    groupby_rangefunc="stderr",
                    range_y=(0, 1),
                )
                for k in range(1, (n_tasks or 5) + 1)
            ],
        ),
        wr.H2(text="Accuracy matrices"),
        wr.PanelGrid(
            runsets=[runset()],
            panels=[
                wr.MediaBrowser(
                    title="accuracy matrix (row: after task t, column: task k)",
                    media_keys=["acc_matrix_heatmap"],
                    num_columns=3,
                ),
                wr.WeavePanelSummaryTable(table_name="acc_matrix"),
            ],
        ),
    ]
    if params:
        short = short_names(params)
        columns = [wr.ParallelCoordinatesPlotColumn(metric=wr.Config(p), display_name=short[p]) for p in params]
        columns.append(
            wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(METRIC), display_name="final average accuracy")
        )
        blocks += [
            wr.H2(text="Optuna study"),
            wr.P(
                text="Objective per trial, parameter importance and parallel coordinates over the searched "
                "parameters: " + ", ".join(params) + "."
            ),
            wr.PanelGrid(
                runsets=[wr.Runset(entity=entity, project=project, name=name, filters=filters)],
                panels=[
                    wr.ScatterPlot(
                        title="objective per trial",
                        x=wr.SummaryMetric("trial_number"),
                        y=wr.SummaryMetric(METRIC),
                        running_ymax=True,
                    ),
                    wr.ParameterImportancePlot(with_respect_to=METRIC),
                    wr.ParallelCoordinatesPlot(title="searched parameters vs objective", columns=columns),
                ],
            ),
        ]
    blocks += [
        wr.H2(text="Runs"),
        wr.PanelGrid(
            runsets=[wr.Runset(entity=entity, project=project, name=name, filters=filters)],
            panels=[wr.RunComparer(diff_only="split")],
        ),
    ]
    report = wr.Report(
        project=project,
        entity=entity,
        title=title or f"birsweep: {name}",
        description=f"comparison of variants{' in ' + group if group else ''}",
        blocks=blocks,
    )
    if save:
        if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun"):
            raise RuntimeError("saving a W&B report needs the W&B server: unset WANDB_MODE and log in")
        report.save()
    return report
