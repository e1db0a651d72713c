"""The report's method comparison: the table (mean ± s.e.m. per method, upstream's order) by hand, and the CPU
comparison (``experiment=compare_digits``) end to end through ``launch.py`` and the HTML report."""

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
def test_the_cpu_comparison_runs_end_to_end_through_the_report(tmp_path):
    out = launch(
        "experiment=compare_digits",
        "trainer.iters=30",
        "seed=0,1",
        f"paths.sweeps_dir={tmp_path / 'sweeps'}",
        cwd=tmp_path,
        multirun=True,
        timeout=3600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "compare-digits"
    for m in METHODS:
        for seed in (0, 1):
            rec = record.load(sweep / f"{m}-s{seed}")
            assert rec["status"] == "completed" and rec["config"]["method"]["name"] == m
    info = build_report([str(sweep)], out=str(tmp_path / "report.html"))
    page = Page()
    page.feed((tmp_path / "report.html").read_text())
    assert "methods" in page.ids and not page.errors
    for label in ("None", "LwF", "EWC", "SI", "Generative Replay (GR)", "BI-R + SI", "Joint"):
        assert label in page.cells
    assert any(f.endswith("methods-per-task.png") for f in info["figures"])


@pytest.mark.slow
def test_split_digits_shows_the_class_incremental_ordering(tmp_path):
    """The original's class-IL picture on real data (seed 0, 300 iterations per task): without replay every
    method forgets all but the last task (about 1/5), LwF keeps little, the replay methods keep most, joint
    training is the upper bound. Measured: none 19.4, si 19.4, ewc 19.2, lwf 39.7, gr 83.9, bir 93.3, bir_si 94.2,
    joint 97.8 %. Over seeds 0-2 (mean ± s.e.m.): none 19.6 ± 0.1, lwf 40.1 ± 0.8, ewc 19.1 ± 0.1, si 19.5 ± 0.1,
    gr 71.6 ± 6.8 (60.5 and 70.3 for seeds 1 and 2), bir 93.9 ± 0.3, bir_si 94.1 ± 0.2, joint 97.7 ± 0.1 %."""
    out = launch(
        "experiment=compare_digits",
        "seed=0",
        f"paths.sweeps_dir={tmp_path / 'sweeps'}",
        cwd=tmp_path,
        multirun=True,
        timeout=5400,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = tmp_path / "sweeps" / "compare-digits"
    acc = {m: record.load(sweep / f"{m}-s0")["final_avg_acc"] for m in METHODS}
    assert all(acc[m] < 0.3 for m in ("none", "si", "ewc")), acc  # 1/5 = the last task alone
    assert acc["lwf"] < 0.5, acc
    replay = ("gr", "bir", "bir_si")
    assert all(acc[m] > 0.75 for m in replay), acc
    assert min(acc[m] for m in replay) > max(acc[m] for m in ("none", "si", "ewc", "lwf")) + 0.3, acc
    assert acc["joint"] > max(v for m, v in acc.items() if m != "joint"), acc
