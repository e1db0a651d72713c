"""The report's section "Generator quality" (docs/method.md, Generator evaluation; upstream ``--eval-gen``): per data
set, method and variant, mean ± sd over the completed runs (seeds) of the generator's test log-likelihood,
reconstruction error and, for conv models with the evaluation classifier, IS and FID; and the mean
precision-recall curve of each group that has one. The section appears when some record has the figures."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pandas as pd

from analysis.report_html import Report
from analysis.report_methods import labelled
from birsweep.tracking.record import try_load
from birsweep.tracking.record_fields import RunStatus

MEASURES = [
    ("gen_ll", "log-likelihood", "higher: the test data are likelier under the generator"),
    ("gen_recon_error", "reconstruction error", "lower: test samples are reconstructed better"),
    ("gen_is", "IS", "higher: generated samples are confidently and diversely classified"),
    ("gen_fid", "FID", "lower: generated features are distributed like real ones"),
]


def _fmt(values: pd.Series) -> str:
    v = values.dropna().astype(float)
    if v.empty:
        return "–"
    return f"{v.mean():.4g} ± {v.std():.2g}" if len(v) > 1 else f"{v.mean():.4g}"


def generator_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per data set, method and variant: runs and each measure as 'mean ± sd' over its completed runs."""
    done = labelled(runs)
    done = done[(done["status"] == RunStatus.COMPLETED.value) & done["gen_ll"].notna()]
    rows = []
    for label, group in done.groupby("label", sort=False):
        row: Dict[str, object] = {"method": label, "runs": len(group)}
        for col, name, _ in MEASURES:
            if col in group and group[col].notna().any():
                row[name] = _fmt(group[col])
        rows.append(row)
    return pd.DataFrame(rows)


def _curves(runs: pd.DataFrame) -> Dict[str, List[Tuple[np.ndarray, np.ndarray]]]:
    """(precision, recall) of each completed run with a PR curve, per label (read from the run's record)."""
    out: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = {}
    done = labelled(runs)
    if "gen_is" not in done:
        return out
    for run_dir, label in zip(done["run_dir"], done["label"]):
        data, _ = try_load(run_dir)
        entry = (data or {}).get("generator_eval") or {}
        if entry.get("precision") and entry.get("recall"):
            out.setdefault(label, []).append((np.asarray(entry["precision"]), np.asarray(entry["recall"])))
    return out


def _pr_figure(curves: Dict[str, List[Tuple[np.ndarray, np.ndarray]]]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 4.2))
    ax = fig.subplots()
    for i, (label, pairs) in enumerate(curves.items()):
        precision = np.mean([p for p, _ in pairs], axis=0)
        recall = np.mean([r for _, r in pairs], axis=0)
        ax.plot(recall, precision, color=f"C{i % 10}", label=f"{label} (n={len(pairs)})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def generator_section(rep: Report, runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    if "gen_ll" not in runs or runs["gen_ll"].notna().sum() == 0:
        return
    rep.section("generator", "Generator quality")
    rep.text(
        "After the last task, on the test samples of every task trained: the test log-likelihood by importance "
        "sampling (100 samples per test sample, the prior mode and hard gate of the true label), the "
        "reconstruction error per unit and, for conv models, IS and FID on the evaluation classifier's outputs. "
        "Mean ± sd over the completed runs (seeds). " + " ".join(f"{name}: {why}." for _, name, why in MEASURES),
        "note",
    )
    rep.table(generator_table(runs))
    curves = _curves(runs)
    if curves:
        rep.figure(
            "generator-prd", _pr_figure(curves), "Precision-recall of generated vs real features (mean over runs)."
        )
