"""Helpers for the sweeper's tests: compose with the hydra node, run real sweeps through launch.py, read studies."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import optuna
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import birsweep.sweep  # noqa: F401  (registers the optuna/trial config group)
from birsweep.tracking import record
from birsweep.tracking.record import RunStatus
from tests.conftest import CONF, ROOT, TINY

SWEEP = ["hydra/sweeper=optuna", "hydra.sweeper.heartbeat_interval=2", "hydra.sweeper.grace_period=20"]


def compose_with_hydra(overrides: List[str] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def run_sweep(tmp_path: Path, *overrides: str, timeout: float = 600, tiny: bool = True,
              env_extra: Optional[Dict[str, str]] = None, wait: bool = True):
    """``python launch.py -m`` in ``tmp_path`` (the sweep dir is ``tmp_path/sweep``); TINY runs by default."""
    env = {**os.environ, "BIRSWEEP_CACHE_DIR": str(tmp_path / "cache"), "WANDB_MODE": "disabled",
           **(env_extra or {})}
    args = [sys.executable, str(ROOT / "launch.py"), "-m", *SWEEP, *(TINY if tiny else []),
            f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides]
    if not wait:
        return subprocess.Popen(args, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, cwd=str(tmp_path), timeout=timeout)


def load_study(storage: str, name: str) -> optuna.Study:
    from birsweep.sweep.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(storage))


def states(study: optuna.Study) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def record_of(trial: optuna.trial.FrozenTrial, sweep_dir: Path) -> Optional[dict]:
    run_dir = sweep_dir / str(trial.number)
    return record.load(run_dir) if (run_dir / record.RESULTS).exists() else None


RECORD_STATUS = {s.trial_state: s.value for s in RunStatus}  # Optuna state name -> the job record's status


def assert_records_agree(study: optuna.Study, sweep_dir: Path) -> None:
    """Every finished trial's job record says the same as Optuna (a job that failed before training has none)."""
    for t in study.get_trials(deepcopy=False):
        assert t.state.name != "RUNNING", f"trial {t.number} left RUNNING"
        rec = record_of(t, sweep_dir)
        if rec is None:
            assert t.state.name == "FAIL", f"trial {t.number} is {t.state.name} without a record"
            continue
        assert rec["status"] == RECORD_STATUS[t.state.name], (t.number, t.state.name, rec["status"], rec["error"])
        assert rec["trial"] is None or rec["trial"]["number"] == t.number
        if t.state.name == "COMPLETE":
            assert abs(rec["objective"] - t.value) < 1e-9
        if t.state.name == "PRUNED":
            assert rec["tasks_done"] == t.last_step < rec["n_tasks"]
