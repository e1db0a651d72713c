"""The run's memory-exaggeration diagnostics in W&B (docs/analysis.md, Diagnostics), charted against ``task``:

``diag/participation/<term>`` (samples the term acted on in the task), ``diag/top_pair_rate`` (the most confused
pair of old classes), ``diag/pair_rate``, ``diag/pair_skl``, ``diag/pair_distance`` (means over the top pairs),
``diag/replay_acc`` (mean over the old classes), and the test confusion matrix as a table and a heatmap.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from birsweep.tracking.record import RecordView

PREFIX = "diag"


def _mean(values: List[float]) -> Optional[float]:
    return float(np.mean(values)) if values else None


def diagnostics_scalars(entry: Mapping[str, Any]) -> Dict[str, float]:
    """The per-task scalars of one diagnostics entry (those without a value, e.g. no old pair yet, left out)."""
    pairs = entry.get("pairs") or []
    values: Dict[str, Optional[float]] = {
        f"{PREFIX}/top_pair_rate": pairs[0]["rate"] if pairs else None,
        f"{PREFIX}/pair_rate": _mean([p["rate"] for p in pairs]),
        f"{PREFIX}/pair_skl": _mean([p["skl"] for p in pairs]),
        f"{PREFIX}/pair_distance": _mean([p["distance"] for p in pairs]),
        f"{PREFIX}/replay_acc": entry.get("replay_acc_old"),
    }
    for term, count in (entry.get("participation") or {}).items():
        values[f"{PREFIX}/participation/{term}"] = count
    return {k: float(v) for k, v in values.items() if v is not None}


def confusion_heatmap(entry: Mapping[str, Any], title: str) -> Any:
    """Rows: true class, columns: predicted class (original labels), as the share of the row's test samples."""
    from matplotlib.figure import Figure

    counts = np.asarray(entry["confusion"], dtype=float)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    n = len(rates)
    fig = Figure(figsize=(2.0 + 0.3 * max(n, 6), 1.5 + 0.3 * max(n, 6)))
    ax = fig.add_subplot()
    img = ax.imshow(rates, vmin=0, vmax=1, cmap="magma", aspect="equal")
    labels = [str(c) for c in entry["classes"]]
    step = max(1, n // 25)  # at most ~25 tick labels
    ax.set_xticks(range(0, n, step), labels[::step], fontsize=7, rotation=90)
    ax.set_yticks(range(0, n, step), labels[::step], fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(img, ax=ax, label="share of the class's test samples", fraction=0.05)
    return fig


def task_entry(record: RecordView, task: int) -> Optional[Mapping[str, Any]]:
    return next((d for d in record.get("diagnostics") or [] if d.get("task") == task), None)


def diagnostics_row(record: RecordView, task: int, name: str, confusion: bool) -> Dict[str, Any]:
    """What the logger sends for task ``task``: the scalars, and with ``confusion`` (``logger.log_confusion``) the
    confusion table and its heatmap ({} without diagnostics)."""
    import wandb

    from birsweep.tracking.figures import figure_rgb

    entry = task_entry(record, task)
    if entry is None:
        return {}
    row: Dict[str, Any] = dict(diagnostics_scalars(entry))
    if not confusion:
        return row
    labels = [str(c) for c in entry["classes"]]
    row[f"{PREFIX}/confusion"] = wandb.Table(
        columns=["true \\ predicted", *labels], data=[[label, *r] for label, r in zip(labels, entry["confusion"])]
    )
    title = f"{name}: test confusion after task {task}"
    row[f"{PREFIX}/confusion_heatmap"] = wandb.Image(
        figure_rgb(confusion_heatmap(entry, title)), caption="rows: true class, columns: predicted (original labels)"
    )
    return row
