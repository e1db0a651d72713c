"""The generator evaluation beyond the record: the runs DataFrame's gen_* columns, the report's "Generator quality"
section with its PR-curve plot, and W&B (gen/* summary keys in a real offline run, the PR curve as a plot)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from analysis.report import build_report
from analysis.runs import load_runs
from analysis.wandb_api import record_from_wandb
from analysis.wandb_offline import find_runs, read_run
from birsweep.loggers.wandb_generator import log_generator_eval
from birsweep.loggers.wandb_logger import WandbLogger
from birsweep.tracking import record
from birsweep.train.loop.run import train
from tests.helpers import SMALL_WANDB, TINY, make_cfg

QUICK = [*TINY, "trainer.iters=6", "trainer.log_every=6", "eval_gen.n_test=20", "eval_gen.samples=5"]
CURVE = {"precision": [0.0, 0.5, 0.9, 0.4], "recall": [1.0, 0.8, 0.3, 0.0], "is": 3.5, "fid": 12.0}


def _runs(root):
    for seed in (0, 1):
        train(make_cfg([*QUICK, f"seed={seed}"]), str(root / f"s{seed}"))
    train(make_cfg([*QUICK, "method=none"]), str(root / "none"))
    path = root / "s1" / "results.json"  # as a conv run with the evaluation classifier would have it
    data = json.loads(path.read_text())
    data["generator_eval"].update(CURVE)
    path.write_text(json.dumps(data))


def test_runs_frame_and_report_section(tmp_path):
    _runs(tmp_path)
    runs = load_runs(tmp_path).set_index("run_dir")
    recs = {name: record.load(tmp_path / name) for name in ("s0", "s1", "none")}
    s0 = runs.loc[recs["s0"]["run_dir"]]
    assert s0["gen_ll"] == recs["s0"]["generator_eval"]["ll"] and s0["gen_recon_error"] > 0
    assert pd.isna(s0["gen_skipped"]) and "conv" in s0["gen_image_metrics_skipped"]
    assert runs.loc[recs["s1"]["run_dir"]]["gen_fid"] == 12.0
    assert runs.loc[recs["none"]["run_dir"]]["gen_skipped"] == "method none has no generator"

    info = build_report([str(tmp_path)], out=str(tmp_path / "report.html"))
    page = (tmp_path / "report.html").read_text()
    assert "Generator quality" in page and "log-likelihood" in page
    lls = [recs[n]["generator_eval"]["ll"] for n in ("s0", "s1")]
    mean, sd = sum(lls) / 2, float(torch.tensor(lls).std())
    assert f"{mean:.4g} ± {sd:.2g}" in page  # mean ± sd over the two seeds
    assert any(f.endswith("generator-prd.png") for f in info["figures"])


def test_no_section_without_figures(tmp_path):
    train(make_cfg([*QUICK, "eval_gen.enabled=false"]), str(tmp_path / "off"))
    build_report([str(tmp_path)], out=str(tmp_path / "report.html"))
    assert "Generator quality" not in (tmp_path / "report.html").read_text()


class _FakeRun:
    def __init__(self):
        self.summary, self.logged = {}, []

    def log(self, row, step):
        self.logged.append((step, row))


def test_wandb_hook_sets_the_summary_and_plots_the_curve():
    run = _FakeRun()
    log_generator_eval(run, {"generator_eval": {"ll": -3.0, "recon_error": 0.2, **CURVE}}, step=7)
    assert run.summary == {"gen/ll": -3.0, "gen/recon_error": 0.2, "gen/is": 3.5, "gen/fid": 12.0}
    [(step, row)] = run.logged
    assert step == 7 and "gen/prd_curve" in row
    back = record_from_wandb({}, run.summary)["generator_eval"]
    assert back == {"ll": -3.0, "recon_error": 0.2, "is": 3.5, "fid": 12.0}


def test_offline_wandb_run_carries_the_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = make_cfg([*SMALL_WANDB, "eval_gen.n_test=20", "eval_gen.samples=5"])
    train(cfg, str(tmp_path / "job"), [WandbLogger(cfg)])
    rec = record.load(tmp_path / "job")
    [path] = find_runs(str(tmp_path / "job"))
    summary = read_run(path, wait=60)["summary"]
    assert summary["gen/ll"] == pytest.approx(rec["generator_eval"]["ll"])
    assert summary["gen/recon_error"] == pytest.approx(rec["generator_eval"]["recon_error"])
    assert summary["gen/image_metrics_skipped"] == rec["generator_eval"]["image_metrics_skipped"]
