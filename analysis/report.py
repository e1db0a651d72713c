"""Self-contained HTML comparison report of runs and sweeps.

    python -m analysis.report multirun/repulsion-digits multirun/demo/2026-11-23_10-00-00 -o report.html

Sections: does the variant beat the baseline (analysis/report_confirm.py: Δ paired by seed with its interval),
variants (mean ± s.e.m. over seeds of final average accuracy, forgetting and BWT), average accuracy after each task
(lines with error bands), accuracy-matrix heatmaps, every run, and for each Optuna study found (SQLite/journal file
in a sweep dir, the jobs' ``optuna.storage``, or ``--study STORAGE[::NAME]``): its history, parameter importance,
parallel coordinates, intermediate values and best parameters. Figures are embedded as PNG data (the file opens
anywhere, offline) and also written to ``<name>_figures/`` beside it.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from typing import List, Optional, Sequence, Tuple, TypedDict

from analysis.compare import add_labels, compare
from analysis.report_ablations import add_ablations_section
from analysis.report_confirm import confirm_section
from analysis.report_diagnostics import diagnostics_report_section
from analysis.report_generator import generator_section
from analysis.report_html import Report, Section
from analysis.report_methods import add_methods_section
from analysis.report_runs import curves_section, matrices_section, runs_section, variants_section
from analysis.report_study import studies_section
from analysis.runs import load_runs, load_tasks
from analysis.study import find_studies

# The report, in order: each section is ``(rep, runs, tasks) -> None`` (analysis.report_html.Section). A new
# section lives in its own module and is added here.
SECTIONS: List[Section] = [
    confirm_section,  # first: does the variant beat the baseline? (analysis/report_confirm.py)
    variants_section,
    add_methods_section,  # continual-learning methods side by side, when the runs hold several
    add_ablations_section,  # BI-R's components one at a time (analysis/report_ablations.py)
    curves_section,
    matrices_section,
    diagnostics_report_section,  # did exaggeration separate competing memories? (analysis/report_diagnostics.py)
    generator_section,  # generator quality: log-likelihood, recon error, IS, FID, PR curves (report_generator.py)
    runs_section,
    studies_section,
]


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

    rep = Report(out, title or "birsweep comparison report", paths=paths, studies=found, top=top)
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
    for section in SECTIONS:
        section(rep, runs, tasks)

    rep.write(preamble)
    return {
        "html": rep.out,
        "figures": rep.figures,
        "runs": len(runs),
        "labels": list(compare(runs)["label"]),
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
