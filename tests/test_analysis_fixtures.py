"""Small real sweeps for the analysis, report and notebook tests, made once per test session.

``grid_sweep``: Hydra's basic sweeper over two variants x two seeds (4 jobs), W&B offline.
``optuna_sweep``: birsweep's Optuna sweeper on the repulsion search space (3 trials, median pruner), W&B offline;
skipped while the sweeper is not installed in this checkout.
Each is built under the session's temp dir (shared by pytest-xdist's workers) and reused by every module that
imports the fixtures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from birsweep.build_once import cache_lock
from tests.helpers import SMALL_WANDB, cli

N_TASKS = 3  # SMALL_WANDB: 3 tasks of 2 classes
ITERS = 10  # per task (debug=tiny's 30 change no check here: each job's numbers are compared with its record)
# what no test of these sweeps reads: the generator's evaluation, and the replayed images and confusion heatmaps sent
# to W&B after each task (tests/test_gen_eval_*.py, test_wandb.py and test_wandb_diagnostics.py check those on runs of
# their own; the records keep the diagnostics the reports read)
UNREAD = ["eval_gen.enabled=false", "logger.log_samples=false", "logger.log_confusion=false"]


def _launch(args, sweep_dir: Path, base: Path) -> None:
    out = cli(
        *args,
        *SMALL_WANDB,
        *UNREAD,
        f"trainer.iters={ITERS}",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=base,
        multirun=True,
        wandb_dir=base,
    )
    if out.returncode != 0:
        raise RuntimeError(f"sweep failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def _shared_base(tmp_path_factory) -> Path:
    """The session's temp dir, or under pytest-xdist the one its workers share (``popen-gwN``'s parent), so that
    the sweep is made by one worker and read by all."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _cached(tmp_path_factory, name: str, args) -> Path:
    base = _shared_base(tmp_path_factory)
    sweep_dir = base / name
    done = base / f"{name}.done"
    with cache_lock(str(done)):  # the first worker builds; the others wait for it and find it done
        if not done.exists():
            started = time.time()
            _launch(args, sweep_dir, base)
            done.write_text(f"{time.time() - started:.1f} s\n")
    return sweep_dir


@pytest.fixture(scope="session")
def grid_sweep(tmp_path_factory) -> Path:
    """4 jobs: variant=baseline,repulsion x seed=0,1 (job dirs 0..3)."""
    return _cached(tmp_path_factory, "grid-sweep", ["variant=baseline,repulsion", "seed=0,1"])


@pytest.fixture(scope="session")
def optuna_sweep(tmp_path_factory) -> Path:
    """3 trials of hparams_search=repulsion (the third without ``use_rep_f``); the study in optuna.db in the sweep."""
    return _cached(
        tmp_path_factory,
        "optuna-sweep",
        ["hparams_search=repulsion", "hydra.sweeper.n_trials=3", "hydra.sweeper.study_name=rep-test"],
    )
