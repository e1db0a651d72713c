"""Self-contained HTML comparison report of runs and sweeps.

    python -m analysis.report multirun/repulsion-digits multirun/demo/2026-11-23_10-00-00 -o report.html

Sections: variants (mean ± s.e.m. over seeds of final average accuracy, forgetting and BWT), average accuracy
after each task (lines with error bands), accuracy-matrix heatmaps, every run, and for each Optuna study found
(SQLite/journal file in a sweep dir, the jobs' ``optuna.storage``, or ``--study STORAGE[::NAME]``): its
history, parameter importance, parallel coordinates, intermediate values and best parameters. Figures are
embedded as PNG data (the file opens anywhere, offline) and also written to ``<name>_figures/`` beside it.
"""

from __future__ import annotations

import argparse
import base64
import html
import os
import sys
import time
from typing import List, Optional, Sequence, Tuple, TypedDict

import pandas as pd

from analysis.compare import METRIC_NAMES, METRICS, add_labels, best_trial, compare, task_curves
from analysis.diagnostics import load_diagnostics
from analysis.plots import (
    param_importances,
    plot_history,
    plot_importance,
    plot_intermediate,
    plot_matrices,
    plot_metric_bars,
    plot_parallel,
    plot_task_curves,
)
from analysis.report_diagnostics import diagnostics_section
from analysis.runs import load_runs, load_tasks
from analysis.study import find_studies, load_study
from birsweep.secrets import mask_url
from birsweep.tracking.figures import figure_png

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; font-size: .85em; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
.note { color: #666; font-size: .9em; } code { background: #f3f3f3; padding: 0 .2em; }
nav a { margin-right: 1em; }
"""

# Marks <body data-images-loaded="ok/total"> once the page has loaded: lets a headless browser check that every
# embedded figure decoded (the report needs no script otherwise).
IMAGE_CHECK = """
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; } }
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
"""


def _pct(mean: float, err: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{100 * mean:.2f} ± {100 * err:.2f}" if not pd.isna(err) else f"{100 * mean:.2f}"


def _num(value, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if pct:
        return f"{100 * float(value):.2f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Report:
    """Collects sections and figures, then writes the HTML and the PNGs."""

    def __init__(self, out: str, title: str):
        self.out, self.title = os.path.abspath(out), title
        stem = os.path.splitext(os.path.basename(self.out))[0]
        self.fig_dir = os.path.join(os.path.dirname(self.out), f"{stem}_figures")
        self.parts: List[str] = []
        self.nav: List[Tuple[str, str]] = []
        self.figures: List[str] = []

    def section(self, anchor: str, heading: str) -> None:
        self.nav.append((anchor, heading))
        self.parts.append(f'<h2 id="{anchor}">{html.escape(heading)}</h2>')

    def h3(self, text: str, anchor: str = "") -> None:
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h3{ident}>{html.escape(text)}</h3>")

    def text(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>' if cls else f"<p>{html.escape(text)}</p>")

    def table(self, frame: pd.DataFrame) -> None:
        self.parts.append(frame.to_html(index=False, escape=True, na_rep="–", border=0))

    def figure(self, name: str, fig, caption: str) -> None:
        png = figure_png(fig)
        os.makedirs(self.fig_dir, exist_ok=True)
        path = os.path.join(self.fig_dir, f"{name}.png")
        with open(path, "wb") as f:
            f.write(png)
        self.figures.append(path)
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def write(self, preamble: str) -> None:
        nav = " ".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h in self.nav)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>\n<body>"
            f"<h1>{html.escape(self.title)}</h1>{preamble}<nav>{nav}</nav>\n"
            + "\n".join(self.parts)
            + f"\n<script>{IMAGE_CHECK}</script></body></html>\n"
        )
        os.makedirs(os.path.dirname(self.out), exist_ok=True)
        tmp = self.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, self.out)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text)).strip("-").lower() or "x"


def _variants_table(table: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "configuration": table["label"],
            "variant": table["variant"],
            "runs (completed/all)": [f"{c}/{n}" for c, n in zip(table["n_completed"], table["n_runs"])],
            "seeds": table["seeds"],
        }
    )
    for m in METRICS:
        out[f"{METRIC_NAMES[m]} (%)"] = [_pct(a, b) for a, b in zip(table[f"{m}_mean"], table[f"{m}_sem"])]
    return out


def _runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    cols = {
        "configuration": runs["label"],
        "seed": runs["seed"],
        "status": runs["status"],
        "tasks": [f"{_num(a)}/{_num(b)}" for a, b in zip(runs["tasks_done"], runs["n_tasks"])],
    }
    for m in METRICS:
        cols[f"{METRIC_NAMES[m]} (%)"] = [_num(v, pct=True) for v in runs[m]]
    if runs["trial_number"].notna().any():
        cols["trial"] = [_num(v) for v in runs["trial_number"]]
    cols["train (s)"] = [_num(v) for v in runs.get("train_s", pd.Series([None] * len(runs)))]
    cols["run dir"] = runs["run_dir"]
    return pd.DataFrame(cols)


def _study_section(rep: Report, storage: str, name: str, runs: pd.DataFrame) -> None:
    trials = load_study(storage, name)
    direction = trials.attrs.get("direction", "maximize")
    slug = _slug(name)
    rep.h3(f"Study {name}", anchor=f"study-{slug}")
    counts = trials["trial_state"].value_counts().to_dict() if len(trials) else {}
    rep.text(
        f"storage {mask_url(storage)}; direction {direction}; {len(trials)} trials: "
        + ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
    )
    best = best_trial(runs, trials, direction)
    if best is not None:
        rep.text(
            f"Best trial: #{int(best['trial_number'])} with objective {100 * float(best['trial_value']):.2f}%"
            + (f" (run dir {best['run_dir']})" if isinstance(best.get("run_dir"), str) else "")
        )
        params = [(c[len("params.") :], best[c]) for c in trials.columns if c.startswith("params.")]
        rep.table(pd.DataFrame({"best parameter": [p for p, _ in params], "value": [_num(v) for _, v in params]}))
    else:
        rep.text("No complete trial yet: no best parameters.", "note")
    rep.figure(
        f"study-{slug}-history",
        plot_history(trials, direction, f"optimisation history: {name}"),
        "Objective per trial (pruned trials at their last reported value) and the best so far.",
    )
    importances, why = param_importances(storage, name)
    if importances:
        rep.figure(
            f"study-{slug}-importance",
            plot_importance(importances, f"parameter importance: {name}"),
            "Importance of each searched parameter for the objective (Optuna's default evaluator, complete trials).",
        )
        rep.table(
            pd.DataFrame({"parameter": list(importances), "importance": [f"{v:.3f}" for v in importances.values()]})
        )
    else:
        rep.text(f"Parameter importance not available: {why}.", "note")
    rep.figure(
        f"study-{slug}-parallel",
        plot_parallel(trials, direction),
        "Parallel coordinates of the complete trials, coloured by the objective.",
    )
    if any(c.startswith("intermediate.") for c in trials.columns):
        rep.figure(
            f"study-{slug}-intermediate",
            plot_intermediate(trials, f"intermediate values: {name}"),
            "Average accuracy after each task as reported to the pruner; pruned trials dashed.",
        )
    shown = trials[
        [
            c
            for c in trials.columns
            if c in ("trial_number", "trial_state", "trial_value", "last_step") or c.startswith("params.")
        ]
    ].copy()
    shown["trial_value"] = [_num(v, pct=True) for v in shown["trial_value"]]
    shown.columns = [c.replace("params.", "") if c.startswith("params.") else c for c in shown.columns]
    rep.table(shown)


class ReportInfo(TypedDict):
    """What went into a report: its HTML file, figure files, run count, configuration labels and studies."""

    html: str
    figures: List[str]
    runs: int
    labels: List[str]
    studies: List[Tuple[str, str]]


def build_report(
    paths: Sequence[str],
    out: str = "report.html",
    title: Optional[str] = None,
    by: Optional[Sequence[str]] = None,
    studies: Sequence[Tuple[str, Optional[str]]] = (),
    top: int = 10,
) -> ReportInfo:
    """Write the report; returns what went in (runs, labels, studies, figure files)."""
    paths = [os.fspath(p) for p in paths]
    runs = load_runs(paths)
    if runs.empty:
        raise FileNotFoundError(f"no run records (results.json) under {', '.join(paths)}")
    tasks = load_tasks(paths)
    runs = add_labels(runs, by)
    tasks = tasks.merge(runs[["run_dir", "label"]], on="run_dir", how="left")
    table = compare(runs)
    labels = list(table["label"].head(top))
    found: List[Tuple[str, str]] = []
    for path in paths:
        found += find_studies(path) if os.path.isdir(path) else []
    for storage, name in studies:
        if name is None:
            found += (
                [s for s in find_studies(storage)]
                if os.path.isdir(storage)
                else [(storage, n) for n in _study_names(storage)]
            )
        else:
            found.append((storage, name))
    found = list(dict.fromkeys(found))

    rep = Report(out, title or "birsweep comparison report")
    statuses = runs["status"].value_counts().to_dict()
    preamble = (
        f'<p class="note">Generated {html.escape(time.strftime("%Y-%m-%d %H:%M:%S"))} from '
        + ", ".join(f"<code>{html.escape(os.path.abspath(p))}</code>" for p in paths)
        + f": {len(runs)} runs ("
        + ", ".join(f"{v} {html.escape(str(k))}" for k, v in sorted(statuses.items()))
        + f"), {len(found)} "
        + ("study" if len(found) == 1 else "studies")
        + ".</p>"
    )

    rep.section("variants", "Variants")
    rep.text(
        "Mean ± standard error of the mean over seeds (completed runs); runs that differ only by seed "
        "share a configuration. Accuracies in %, forgetting: drop from the best earlier accuracy, BWT: "
        "final minus just-learnt accuracy (negative = forgetting).",
        "note",
    )
    rep.table(_variants_table(table))
    rep.figure(
        "variants-metrics",
        plot_metric_bars(table, top=top),
        "Final average accuracy, forgetting and BWT per configuration (mean ± s.e.m.).",
    )

    rep.section("curves", "Average accuracy after each task")
    curves = task_curves(tasks)
    rep.figure(
        "avg-acc-per-task",
        plot_task_curves(curves, labels),
        f"Average accuracy over the tasks seen after each task; band: ± s.e.m. over seeds "
        f"(top {len(labels)} configurations).",
    )

    rep.section("matrices", "Accuracy matrices")
    rep.figure(
        "acc-matrices",
        plot_matrices(tasks, labels),
        "Accuracy on task k (columns) after training task t (rows), mean over the configuration's runs.",
    )

    diagnostics_section(rep, runs, load_diagnostics(paths))  # analysis/report_diagnostics.py

    rep.section("runs", "Runs")
    rep.table(_runs_table(runs.sort_values(["label", "seed"], kind="stable")))

    rep.section("studies", "Optuna studies")
    if not found:
        rep.text(
            "No Optuna study found (no *.db or journal file in the given dirs, no optuna.storage in the jobs' "
            "configs); pass one with --study STORAGE[::NAME].",
            "note",
        )
    for storage, name in found:
        _study_section(rep, storage, name, runs)

    rep.write(preamble)
    return {
        "html": rep.out,
        "figures": rep.figures,
        "runs": len(runs),
        "labels": list(table["label"]),
        "studies": found,
    }


def _study_names(storage: str) -> List[str]:
    import optuna

    from analysis.study import open_storage

    return [s.study_name for s in optuna.get_all_study_summaries(open_storage(storage), include_best_trial=False)]


def _parse_study(spec: str) -> Tuple[str, Optional[str]]:
    if "::" in spec:
        storage, name = spec.rsplit("::", 1)
        return storage, name or None
    return spec, None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.report",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", help="run dirs, multirun/sweep dirs or any tree of them")
    parser.add_argument("-o", "--output", default="report.html", help="HTML file to write (default report.html)")
    parser.add_argument("--title", default=None)
    parser.add_argument(
        "--by", default=None, help="comma-separated columns to group runs by (default: variant + differing settings)"
    )
    parser.add_argument(
        "--study",
        action="append",
        default=[],
        metavar="STORAGE[::NAME]",
        help="an Optuna study to include (database URL, .db or journal file); repeatable",
    )
    parser.add_argument("--top", type=int, default=10, help="configurations shown in the plots (default 10)")
    args = parser.parse_args(argv)
    try:
        info = build_report(
            args.paths,
            args.output,
            args.title,
            args.by.split(",") if args.by else None,
            [_parse_study(s) for s in args.study],
            args.top,
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"report: {info['html']}  ({info['runs']} runs, {len(info['labels'])} configurations, "
        f"{len(info['studies'])} studies; figures in {os.path.dirname(info['figures'][0])})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
