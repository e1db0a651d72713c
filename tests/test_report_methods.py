"""The report's method comparison: the table (mean ± s.e.m. per method, upstream's order) by hand, and the CPU
comparison (``experiment=compare_digits``) end to end through ``launch.py`` and the HTML report, where split
digits shows the class-incremental ordering of the methods."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.report import build_report
from analysis.report_methods import method_curves, method_table
from birsweep.tracking import record
from tests.helpers import launch
from tests.test_analysis_report import Page

METHODS = ("joint", "none", "lwf", "ewc", "si", "gr", "bir", "bir_si")


def _runs() -> pd.DataFrame:
    rows = []
    for method, accs in {"joint": [0.9, 0.8], "none": [0.2, 0.18, 0.22], "bir_si": [0.7, 0.6]}.items():
        for seed, acc in enumerate(accs):
            rows.append(
                {
                    "run_dir": f"{method}-{seed}",
                    "method.name": method,
                    "variant": "baseline",
                    "data": "digits",
                    "seed": seed,
                    "status": "completed",
                    "final_avg_acc": acc,
                }
            )
    rows.append({**rows[0], "run_dir": "joint-failed", "status": "failed", "final_avg_acc": 0.0, "seed": 9})
    return pd.DataFrame(rows)


def test_method_table_is_mean_and_sem_over_completed_runs_in_upstreams_order():
    table = method_table(_runs())
    assert list(table["method"]) == ["none", "bir_si", "joint"]  # upstream's plot order, the upper bound last
    none = table.iloc[0]
    assert none["label"] == "None" and none["n"] == 3 and none["mean"] == pytest.approx(0.2)
    # s.e.m. = sample sd / sqrt(n) (upstream: sqrt(var / (n - 1)) with numpy's population var)
    assert none["sem"] == pytest.approx(math.sqrt(((0.0**2 + 0.02**2 + 0.02**2) / 2) / 3))
    joint = table.iloc[2]
    assert joint["n"] == 2 and joint["mean"] == pytest.approx(0.85)  # the failed run is left out


def test_method_curves_average_each_task_over_a_methods_runs():
    runs = _runs()
    tasks = pd.DataFrame(
        [{"run_dir": r, "task": t, "avg_acc": a} for r, t, a in [("joint-0", 1, 1.0), ("joint-1", 1, 0.8)]]
    )
    curves = method_curves(runs, tasks)
    assert curves.loc[0, "label"] == "Joint" and curves.loc[0, "mean"] == pytest.approx(0.9)


@pytest.mark.slow
def test_split_digits_shows_the_class_incremental_ordering_through_the_report(tmp_path):
    """The CPU comparison (``experiment=compare_digits``, seed 0) at 100 iterations per task, end to end through
    ``launch.py`` and the HTML report, shows the original's class-IL picture on real data: without replay every
    method forgets all but the last task (about 1/5), LwF keeps little, BI-R and BI-R + SI keep most, joint training
    is the upper bound. Standard GR, whose separate generator learns far slower, keeps more than the methods
    without replay at this budget but not most (measured, seeds 0-2 at 100 iterations: none 19.2-19.7, si
    19.2-19.7, ewc 18.9-19.2, lwf 35.3-39.2, gr 41.1-48.9, bir 92.8-93.3, bir_si 93.0-93.3, joint 97.2-97.5 %;
    at the experiment's 300 iterations GR kept 83.9, 60.5 and 70.3 %)."""
    out = launch(
        "experiment=compare_digits",
        "trainer.iters=100",
        "seed=0",
        "eval_gen.enabled=false",  # after training, no number changes: the report's methods section reads none of it
        f"paths.sweeps_dir={tmp_path / 'sweeps'}",
        cwd=tmp_path,
        multirun=True,
        timeout=3600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "compare-digits"
    acc = {}
    for m in METHODS:
        rec = record.load(sweep / f"{m}-s0")
        assert rec["status"] == "completed" and rec["config"]["method"]["name"] == m
        acc[m] = rec["final_avg_acc"]
    assert all(acc[m] < 0.3 for m in ("none", "si", "ewc")), acc  # 1/5 = the last task alone
    assert acc["lwf"] < 0.5, acc
    assert all(acc[m] > 0.75 for m in ("bir", "bir_si")), acc
    assert min(acc["bir"], acc["bir_si"]) > max(acc[m] for m in ("none", "si", "ewc", "lwf")) + 0.3, acc
    assert acc["gr"] > max(acc[m] for m in ("none", "si", "ewc")) + 0.1, acc
    assert acc["joint"] > max(v for m, v in acc.items() if m != "joint"), acc
    info = build_report([str(sweep)], out=str(tmp_path / "report.html"))
    page = Page()
    page.feed((tmp_path / "report.html").read_text())
    assert "methods" in page.ids and not page.errors
    for label in ("None", "LwF", "EWC", "SI", "Generative Replay (GR)", "BI-R + SI", "Joint"):
        assert label in page.cells
    assert any(f.endswith("methods-per-task.png") for f in info["figures"])
