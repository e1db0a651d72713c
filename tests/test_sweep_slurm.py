"""A pruned study on a real SLURM cluster through ``hydra/launcher=slurm_cpu``.

Needs a cluster: ``.ci/run`` starts a single-node one with accounting (``tests/slurm_cluster.sh``) and exports its
``SLURM_CONF``; elsewhere the test is skipped with the reason.
"""

import os
import shutil
import subprocess
import time

import pytest

from tests.helpers import assert_records_agree, load_study, run_sweep, states
from tests.test_sweep_e2e import BAD, GOOD, LR, enqueue

pytestmark = pytest.mark.slow


def _cluster_or_skip() -> None:
    if not os.environ.get("SLURM_CONF") or shutil.which("sinfo") is None:
        pytest.skip("no SLURM cluster: run tests/slurm_cluster.sh start DIR and export SLURM_CONF")
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not out.stdout.strip():
        pytest.skip(f"SLURM_CONF is set but sinfo does not answer: {out.stderr.strip()[:200]}")


def test_a_pruned_study_on_slurm(tmp_path):
    _cluster_or_skip()
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"  # the node is this host: SQLite on a local disk is shared
    enqueue(storage, "slurm", {"trainer.lr": GOOD}, {"trainer.lr": GOOD}, {"trainer.lr": BAD}, {"trainer.lr": BAD})
    out = run_sweep(
        tmp_path,
        "hydra/launcher=slurm_cpu",
        "hydra.launcher.timeout_min=20",
        LR,
        "hydra.sweeper.study_name=slurm",
        "hydra.sweeper.n_trials=5",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=2",
        timeout=1500,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, "slurm")
    counts = states(study)
    assert len(study.trials) == 5 and counts.get("RUNNING", 0) == 0, counts
    assert counts.get("PRUNED", 0) >= 1 and counts.get("FAIL", 0) == 0, counts
    assert_records_agree(study, tmp_path / "sweep")
    # every trial ran as a SLURM job that accounting saw complete
    job_dirs = list((tmp_path / "sweep" / ".submitit").iterdir())
    job_ids = sorted({d.name for d in job_dirs if d.name.isdigit()})
    assert len(job_ids) == 5, job_ids
    want = sorted(f"{j}|COMPLETED" for j in job_ids)
    for _ in range(120):  # a job's process ends a moment after it handed its result back
        sacct = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if "RUNNING" not in sacct.stdout and "COMPLETING" not in sacct.stdout:
            break
        time.sleep(1)
    assert sorted(sacct.stdout.split()) == want, sacct.stdout
