"""The generator evaluation in W&B (docs/method.md, Generator evaluation): the figures in the summary as ``gen/*``,
and the precision-recall curve (conv models with the evaluation classifier) as a plot."""

from __future__ import annotations

from typing import Any

from birsweep.tracking.gen_figures import SUMMARY_PREFIX, generator_columns
from birsweep.tracking.record import RecordView


def log_generator_eval(run: Any, record: RecordView, step: int) -> None:
    """Summary ``gen/ll``, ``gen/recon_error``, ... (None values left out); the PR curve at ``step``."""
    import wandb

    for key, value in generator_columns(record, SUMMARY_PREFIX).items():
        if value is not None:
            run.summary[key] = value
    entry = record.get("generator_eval") or {}
    if entry.get("precision") and entry.get("recall"):
        table = wandb.Table(
            data=[[r, p] for r, p in zip(entry["recall"], entry["precision"])], columns=["recall", "precision"]
        )
        plot = wandb.plot.line(table, "recall", "precision", title="Generator precision-recall (PRD)")
        run.log({"gen/prd_curve": plot}, step=step)
