"""The report shows differences: fitted accuracy axes, legends off the data, counts instead of seed values, short
and wrapped labels, unfinished trials left out of the figures, importances only when the study supports them."""

from __future__ import annotations

import re

import numpy as np
import optuna
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection

from analysis.axes import fitted_limits
from analysis.compare import add_labels
from analysis.importance import MIN_COMPLETE, MIN_DISTINCT, why_no_importances
from analysis.labels import compact, param_names, wrap
from analysis.plots import plot_history, plot_intermediate, plot_metric_bars, plot_parallel, plot_task_curves
from analysis.report_html import Report
from analysis.report_runs import variants_table
from analysis.report_study import study_section
from analysis.study import load_study

optuna.logging.set_verbosity(optuna.logging.WARNING)
LONG = "repulsion (lamda_rep=0.0005891, rep_f=15.56, use_rep_f=True, divergence=kl, val_fraction=0.1)"


def _table(means, sems, labels=("a", "b"), n=(3, 3)):
    rows = []
    for label, m, s, k in zip(labels, means, sems, n):
        rows.append(
            {
                "label": label,
                "variant": label.split()[0],
                "n_runs": k,
                "n_completed": k,
                "seeds": ",".join(str(i) for i in range(k)),
                "final_avg_acc_mean": m,
                "final_avg_acc_sem": s,
                "forgetting_mean": 0.05,
                "forgetting_sem": 0.01,
                "bwt_mean": -0.05,
                "bwt_sem": 0.01,
            }
        )
    return pd.DataFrame(rows)


# --- axes fitted to the data ------------------------------------------------------------------------------------------
def test_fitted_limits():
    lo, hi = fitted_limits([90.6, 92.0], [91.0, 92.4], bounds=(0, 100))
    assert 89 < lo < 90.6 and 92.4 < hi < 93.5
    lo, hi = fitted_limits([50.0])  # one value: a readable range around it
    assert lo < 50 < hi and hi - lo >= 1
    lo, hi = fitted_limits([95.0], [100.0], bounds=(0, 100))  # a point on the bound is drawn whole
    assert lo < 95 and 100 <= hi < 101.5


def test_metric_bars_span_the_values_not_zero_to_hundred():
    fig = plot_metric_bars(_table([0.922, 0.908], [0.002, 0.003]))
    acc = fig.axes[0]
    lo, hi = acc.get_xlim()
    assert 88 < lo < 90.5 and 92.4 < hi < 95  # 90.8 vs 92.2 fill the axis
    # error bars kept: the s.e.m. segments reach mean ± s.e.m.
    segments = [seg for coll in acc.collections for seg in coll.get_segments()]
    ends = sorted(round(float(x), 3) for seg in segments for x in np.asarray(seg)[:, 0])
    assert ends == pytest.approx(sorted([92.0, 92.4, 90.5, 91.1]), abs=1e-6)
    assert fig.axes[1].get_xlim()[0] > 0  # forgetting 5 %: its own range too


def test_task_curves_fit_the_values_and_keep_the_legend_off_the_data():
    curves = pd.DataFrame(
        {
            "label": ["base"] * 3 + [LONG] * 3,
            "task": [1, 2, 3] * 2,
            "mean": [0.99, 0.93, 0.908, 0.99, 0.94, 0.922],
            "sem": [0.001, 0.004, 0.005, 0.001, 0.003, 0.004],
            "n": [3] * 6,
        }
    )
    fig = plot_task_curves(curves)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert 88 < lo < 90.3 and 99.1 <= hi <= 101
    FigureCanvasAgg(fig).draw()
    legend = ax.get_legend()
    box, frame = legend.get_window_extent(), ax.get_window_extent()
    assert box.y1 <= frame.y0 or box.x0 >= frame.x1  # below or right of the axes, not over the curves
    fig_box = fig.bbox
    assert box.x0 >= fig_box.x0 - 1 and box.x1 <= fig_box.x1 + 1 and box.y0 >= fig_box.y0 - 1
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0] == "base (n=3)"
    long_text = texts[1]
    assert "\n" in long_text and long_text.endswith("(n=3)")  # wrapped, the count kept
    for token in ("(lamda_rep=0.0005891,", "rep_f=15.56,", "use_rep_f=True,", "divergence=kl,"):
        assert token in long_text.split()  # every name=value whole: wrapped between them, never inside


# --- labels -----------------------------------------------------------------------------------------------------------
def test_labels_short_compact_wrapped():
    assert param_names(["params.variant.repulsion.lamda_rep", "params.variant.rep_f", "params.trainer.lr"]) == {
        "params.variant.repulsion.lamda_rep": "lamda_rep",
        "params.variant.rep_f": "rep_f",
        "params.trainer.lr": "lr",
    }
    assert param_names(["params.variant.recon.lamda_rep", "params.variant.repulsion.lamda_rep"]) == {
        "params.variant.recon.lamda_rep": "recon.lamda_rep",
        "params.variant.repulsion.lamda_rep": "repulsion.lamda_rep",
    }
    assert [compact(v) for v in (0.000589123, 15.5612, 3, True, float("nan"), None, "kl")] == [
        "0.0005891",
        "15.56",
        "3",
        "True",
        "–",
        "–",
        "kl",
    ]
    lines = wrap(LONG, 30, 10).split("\n")
    assert len(lines) > 2 and " ".join(lines) == LONG and all(len(line) <= 30 for line in lines)
    cut = wrap(LONG, 30, 2)
    assert cut.count("\n") == 1 and cut.endswith("…") and set(cut.replace("\n", " ").split()[:-1]) <= set(LONG.split())


def test_labels_never_pool_two_settings():
    base = {"variant": "repulsion", "experiment": "e", "seed": 0, "status": "completed"}
    runs = pd.DataFrame(
        [
            {**base, "run_dir": "a", "variant.repulsion.lamda_rep": 1.23456e-5, "variant.rep_f": 20.0},
            {**base, "run_dir": "b", "variant.repulsion.lamda_rep": 1.23458e-5, "variant.rep_f": 20.0},
            {**base, "run_dir": "c", "variant.repulsion.lamda_rep": 1.23458e-5, "variant.rep_f": 20.0, "seed": 1},
        ]
    )
    labels = add_labels(runs)["label"].tolist()
    # 4 digits would name a and b alike: every digit is kept; b and c differ by seed only and share theirs
    assert labels == ["repulsion (lamda_rep=1.23456e-05)", "repulsion (lamda_rep=1.23458e-05)"] + labels[1:2]
    runs.loc[1:, "variant.repulsion.lamda_rep"] = 0.5
    assert add_labels(runs)["label"].tolist() == ["repulsion (lamda_rep=1.235e-05)"] + ["repulsion (lamda_rep=0.5)"] * 2


def test_a_conditional_parameter_a_trial_did_not_sample_is_labelled_so():
    base = {"variant": "repulsion", "experiment": "e", "seed": 0, "status": "completed", "study_name": "s"}
    runs = pd.DataFrame(
        [
            {**base, "run_dir": "a", "variant.use_rep_f": True, "variant.rep_f": 400.0, "params.variant.rep_f": 400.0},
            {**base, "run_dir": "b", "variant.use_rep_f": False, "variant.rep_f": 20.0, "params.variant.rep_f": None},
        ]
    )
    assert add_labels(runs)["label"].tolist() == [
        "repulsion (use_rep_f=True, rep_f=400)",
        "repulsion (use_rep_f=False, rep_f=– (default 20))",  # not the searched value 20: the default, unused
    ]
    # trial 1's confirmation runs carry no study parameters, only its configuration: they share its label
    sweep = {"sweep_dir": "/s", "trial_number": None, "study_name": None, "params.variant.rep_f": None}
    trials = runs.assign(sweep_dir="/s", trial_number=[0, 1])
    confirm = [
        {**base, **sweep, "run_dir": f"c{k}", "seed": k, "confirm_arm": "trial 1", "variant.use_rep_f": False}
        for k in (1, 2)
    ]
    both = pd.concat([trials, pd.DataFrame(confirm).assign(**{"variant.rep_f": 20.0})], ignore_index=True)
    assert add_labels(both)["label"].tolist()[1:] == ["repulsion (use_rep_f=False, rep_f=– (default 20))"] * 3


def test_variants_table_shows_counts_and_seeds_only_where_they_help():
    single = variants_table(_table([0.9, 0.8], [float("nan")] * 2, n=(1, 1)))
    assert "runs (completed/all)" in single and list(single["runs (completed/all)"]) == ["1/1", "1/1"]
    assert not any("seed" in c for c in single.columns)  # a lone seed value would read like a count
    several = variants_table(_table([0.9, 0.8], [0.01, 0.02], n=(3, 1)))
    assert list(several["seeds of completed runs"]) == ["0,1,2", "0"]


# --- studies: unfinished trials, importances --------------------------------------------------------------------------
SPACE = {
    "variant.rep_f": optuna.distributions.FloatDistribution(1, 50),
    "variant.repulsion.lamda_rep": optuna.distributions.FloatDistribution(1e-8, 1, log=True),
}


def _study(db, values, running=0):
    """A study with a complete trial per value (None: pruned) and ``running`` trials that reported 0.99."""
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{db}", direction="maximize")
    for value in values:
        trial = study.ask(SPACE)
        trial.report(0.6, 1)
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            trial.report(value, 2)
            study.tell(trial, value)
    for _ in range(running):
        trial = study.ask(SPACE)
        trial.report(0.99, 1)  # a running trial's partial result, far above the finished ones
    return study


def test_running_trials_are_not_plotted(tmp_path):
    _study(tmp_path / "s.db", [0.41, 0.52, None, 0.47], running=2)
    trials = load_study(str(tmp_path / "s.db"), "s")
    running = set(trials.loc[trials["trial_state"] == "RUNNING", "trial_number"])
    assert len(running) == 2

    history = plot_history(trials).axes[0]
    xs = {float(x) for c in history.collections if isinstance(c, PathCollection) for x, _ in c.get_offsets()}
    assert xs == {0.0, 1.0, 2.0, 3.0} and not xs & running
    assert history.get_ylim()[1] < 70  # the running trials' 99 % does not stretch the axis
    assert "2 trials still running, not shown" in history.get_title()

    inter = plot_intermediate(trials).axes[0]
    plotted = [y for line in inter.get_lines() for y in line.get_ydata()]
    assert plotted and max(plotted) < 70 and 99.0 not in plotted
    assert "2 trials still running, not shown" in inter.get_title()

    parallel = plot_parallel(trials).axes[0]
    assert len([line for line in parallel.get_lines() if len(line.get_xdata()) > 2]) == 3  # the complete ones
    ticks = [t.get_text() for t in parallel.get_xticklabels()]
    assert ticks == ["rep_f", "lamda_rep", "objective (%)"]


def test_a_pruned_trial_is_drawn_as_pruned_not_as_a_final_value(tmp_path):
    study = _study(tmp_path / "s.db", [0.41, 0.52, 0.47])
    trial = study.ask(SPACE)
    for task, value in ((1, 0.99), (2, 0.985), (3, 0.977)):  # few classes learnt: far above any final value
        trial.report(value, task)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    trials = load_study(str(tmp_path / "s.db"), "s")
    history = plot_history(trials).axes[0]
    assert history.get_ylim()[1] < 70  # the pruned trial's 97.7 % after task 3 is not on the final-value axis
    points = {c.get_label(): c for c in history.collections if isinstance(c, PathCollection)}
    pruned = points["pruned (no final value; tN: stopped after task N)"]
    assert [float(x) for x, _ in pruned.get_offsets()] == [3.0]
    assert [float(x) for x, _ in points["complete"].get_offsets()] == [0.0, 1.0, 2.0]
    assert [t.get_text() for t in history.texts] == ["t3"]


def test_the_history_axis_spans_pruned_and_failed_trials_before_and_after_the_complete_ones(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s", direction="maximize")
    for number in range(6):  # failed, pruned, complete, complete, pruned, pruned: the edge markers lie outside
        trial = study.ask(SPACE)
        if number == 0:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        trial.report(0.9, 2)
        if number in (2, 3):
            study.tell(trial, 0.7 + number / 100)
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    history = plot_history(load_study(str(tmp_path / "s.db"), "s")).axes[0]
    low, high = history.get_xlim()
    assert low < 0 < 5 < high and high - low < 7  # every trial inside the axis, no more than half a trial beyond


def test_importance_rule():
    params = [{"a": i} for i in range(6)]
    assert why_no_importances([0.1, 0.2, 0.3, 0.4], params[:4]).startswith(
        f"4 complete trials; importances need at least {MIN_COMPLETE}"
    )
    assert "only 2 distinct objective values" in why_no_importances([0.5, 0.5, 0.5, 0.6, 0.6], params[:5])
    assert why_no_importances([0.1, 0.2, 0.3, 0.3, 0.3], params[:5]) is None
    assert "share the same parameters" in why_no_importances([0.1, 0.2, 0.3, 0.4, 0.5], [{"a": 1}] * 5)
    assert MIN_COMPLETE == 5 and MIN_DISTINCT == 3  # documented in docs/analysis.md


@pytest.mark.parametrize(
    "values, shown",
    [
        ([0.41, 0.52, 0.47, 0.38, 0.55, 0.50], True),
        ([0.41, 0.41, 0.41, 0.52, 0.52, 0.52], False),  # six complete, two values: ties say nothing
        ([0.41, 0.52, 0.47, None], False),  # three complete
    ],
)
def test_study_section_importances_and_notes(tmp_path, values, shown):
    db = tmp_path / "s.db"
    _study(db, values, running=1)
    rep = Report(str(tmp_path / "r.html"), "t")
    study_section(rep, f"sqlite:///{db}", "s", pd.DataFrame())
    rep.write("")
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    names = [p.rsplit("/", 1)[-1] for p in rep.figures]
    assert ("s-importance.png" in " ".join(names)) is shown
    if shown:
        assert "<th>parameter</th>" in text and "Parameter importance not shown" not in text
    else:
        note = re.search(r"Parameter importance not shown: ([^<]*)\.", text)
        assert note and ("distinct objective values" in note.group(1) or "complete trials;" in note.group(1))
    assert "1 trial still running, not shown in the figures" in text
    # short parameter names in the tables, compact values
    assert "<th>lamda_rep</th>" in text and "variant.repulsion.lamda_rep" not in text
    assert "<td>rep_f</td>" in text  # the best trial's parameters
