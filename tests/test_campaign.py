"""task=campaign (birsweep/campaign.py) and experiment=fmnist_exaggeration: what a study is told, that the three
studies share one baseline, bad input; a real campaign stopped by SIGTERM and resumed to its report (slow)."""

import json
import signal
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from birsweep.campaign import study_overrides
from birsweep.config_check import check_config
from birsweep.sweep.confirm.plan import baseline_key
from tests.helpers import cli, compose_with_hydra, launch, start

STUDIES = ["fmnist_repulsion", "fmnist_recon", "fmnist_contrastive"]


def test_a_study_gets_the_campaigns_overrides_then_its_preset():
    got = study_overrides(
        ["experiment=fmnist_exaggeration", "task=campaign", "campaign.seeds=2", "hparams_search=demo"],
        ["hydra.run.dir=x", "hydra/launcher=basic", "hydra.mode=RUN"],
        "fmnist_recon",
    )
    assert got == [
        "experiment=fmnist_exaggeration",
        "campaign.seeds=2",
        "hydra/launcher=basic",
        "hparams_search=fmnist_recon",
        "task=train",
    ]


def test_the_experiment_is_a_campaign_of_three_studies_over_one_baseline():
    cfg = compose_with_hydra(["experiment=fmnist_exaggeration"])
    check_config(cfg)
    assert cfg.task == "campaign" and list(cfg.campaign.studies) == STUDIES
    assert cfg.data.name == "fashion_mnist" and cfg.data.val_fraction == 0.1 and cfg.trainer.iters == 2000
    keys, dirs = set(), set()
    for study in STUDIES:
        job = compose_with_hydra(["experiment=fmnist_exaggeration", f"hparams_search={study}", "task=train"])
        sweeper = job.hydra.sweeper
        assert (sweeper.n_trials, sweeper.confirm.seeds, sweeper.confirm.top_k) == (12, 5, 1)
        assert job.hydra.sweep.dir == f"results/fmnist_exaggeration/{study.split('_')[1]}"
        dirs.add(sweeper.confirm.baseline_dir)
        # the baseline each study's confirmation composes: its fixed settings, then the baseline override
        fixed = [f"{k}={v}" for k, v in sweeper.params.items() if v is not None and "(" not in str(v)]
        base = compose_with_hydra(
            ["experiment=fmnist_exaggeration", f"hparams_search={study}", "task=train", *fixed, "variant=baseline"]
        )
        keys.add(baseline_key(base))
    assert dirs == {"results/fmnist_exaggeration/baseline"}
    assert len(keys) == 1  # one set of BI-R + SI runs serves all three comparisons


def test_a_study_that_does_not_compose_stops_the_campaign_before_anything_runs(tmp_path):
    out = cli(
        "experiment=fmnist_exaggeration",
        "campaign.studies=[fmnist_repulsion,nope]",
        f"paths.sweeps_dir={tmp_path / 'c'}",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "campaign study 'nope' does not compose" in lines[0] and "nope" in lines[0]
    assert not (tmp_path / "c" / "repulsion").exists()


def _records(root: Path):
    return {p.parent.relative_to(root).as_posix(): json.loads(p.read_text()) for p in root.rglob("results.json")}


@pytest.mark.slow  # two tiny studies with their confirmations, twice: about a minute
def test_a_campaign_stopped_by_sigterm_resumes_to_its_report(tmp_path):
    root = tmp_path / "c"
    args = [
        "experiment=fmnist_exaggeration",
        "data=digits",
        "debug=tiny",
        "campaign.studies=[fmnist_repulsion,fmnist_recon]",
        "campaign.n_trials=2",
        "campaign.seeds=2",
        f"paths.sweeps_dir={root}",
    ]
    proc = start(*args, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not list((root / "repulsion").glob("*/results.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "launch.out").read_text()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)  # to the campaign alone: it passes the signal on to the study
    assert proc.wait(timeout=300) == 128 + signal.SIGTERM, (tmp_path / "launch.out").read_text()
    assert not (root / "recon").exists()  # stopped in the first study
    cut = {k: r["status"] for k, r in _records(root).items()}
    assert cut and "running" not in cut.values(), cut  # its jobs got the signal too and recorded themselves

    again = launch(*args, cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"report: {root / 'report.html'}" in again.stdout and (root / "report.html").stat().st_size > 10_000
    records = _records(root)
    baseline = sorted(k for k in records if k.startswith("baseline/"))
    assert len(baseline) == 2 and len({k.split("/")[1] for k in baseline}) == 1  # one key, seeds 1 and 2
    for study in ("repulsion", "recon"):
        arms = [k for k in records if k.startswith(f"{study}/confirm/")]
        assert len(arms) == 2, sorted(records)
        keys = {records[k]["confirm"]["baseline"] for k in arms}
        assert keys == {baseline[0].split("/")[1]}
    assert all(r["status"] == "completed" for k, r in records.items() if "confirm" in k or k.startswith("baseline"))
    cfg = OmegaConf.load(root / "repulsion" / "multirun.yaml")
    assert cfg.hydra.sweeper.confirm.baseline_dir == f"{root}/baseline"
