"""Shared test helpers: compose configs (small runs through the ``debug`` group), run ``launch.py`` in a subprocess
with one environment, read the studies and records a sweep leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import optuna
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from birsweep.schema import register_configs
from birsweep.tracking import record
from birsweep.tracking.record_fields import RunStatus

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
register_configs()

TINY = ["debug=tiny"]  # the suite's run: conf/debug/tiny.yaml
# tiny with 3 tasks of 2 classes and W&B offline: short offline W&B runs (the logger and analysis tests)
SMALL_WANDB = [
    *TINY,
    "logger=wandb",
    "logger.mode=offline",
    "trainer.threads=1",
    "data.synthetic.n_classes=6",
    "data.n_tasks=3",
]
# the Optuna sweeper with a fast heartbeat, so tests that kill a sweep see it gone within seconds
SWEEP = ["hydra/sweeper=optuna", "hydra.sweeper.heartbeat_interval=2", "hydra.sweeper.grace_period=20"]


def make_cfg(overrides: Sequence[str] = ()) -> DictConfig:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def compose_with_hydra(overrides: Sequence[str] = ()) -> DictConfig:
    """The config with its ``hydra`` node (sweeper, launcher, output dirs)."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def launch_env(
    cache_dir: Path, wandb_dir: Optional[Path] = None, extra: Optional[Mapping[str, str]] = None
) -> Dict[str, str]:
    """The environment of a ``launch.py`` subprocess.

    Caches in ``cache_dir``; W&B disabled, or with ``wandb_dir`` left to ``logger.mode`` with its cache and config
    dirs under ``wandb_dir`` (no other W&B variable leaks in); this checkout first on PYTHONPATH, as job processes
    of the joblib and submitit launchers import the sweeper plugin from it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["BIRSWEEP_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env["WANDB_SILENT"] = "true"
    if wandb_dir is None:
        env["WANDB_MODE"] = "disabled"
    else:
        env["WANDB_CACHE_DIR"] = str(wandb_dir / "wandb-cache")
        env["WANDB_CONFIG_DIR"] = str(wandb_dir / "wandb-config")
    env.update(extra or {})
    return env


def _command(overrides: Sequence[str], multirun: bool) -> List[str]:
    return [sys.executable, str(ROOT / "launch.py"), *(["-m"] if multirun else []), *overrides]


def launch(
    *overrides: str,
    cwd: Path,
    multirun: bool = False,
    cache_dir: Optional[Path] = None,
    wandb_dir: Optional[Path] = None,
    env_extra: Optional[Mapping[str, str]] = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``python launch.py [-m] overrides`` in ``cwd`` to its end, output captured (caches in ``cwd/cache`` unless
    ``cache_dir``; the environment of :func:`launch_env`)."""
    env = launch_env(cache_dir or cwd / "cache", wandb_dir, env_extra)
    return subprocess.run(
        _command(overrides, multirun), env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout
    )


def start(
    *overrides: str,
    cwd: Path,
    multirun: bool = False,
    cache_dir: Optional[Path] = None,
    env_extra: Optional[Mapping[str, str]] = None,
) -> subprocess.Popen[str]:
    """As :func:`launch`, but returns the running process (in its own session, for tests that kill it); its
    output goes to ``cwd/launch.out``, a file, so a long run never blocks on a full pipe."""
    env = launch_env(cache_dir or cwd / "cache", None, env_extra)
    with open(cwd / "launch.out", "w") as out:
        return subprocess.Popen(
            _command(overrides, multirun),
            env=env,
            cwd=str(cwd),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def cli(
    *overrides: str,
    cwd: Path,
    multirun: bool = False,
    wandb_dir: Optional[Path] = None,
    env_extra: Optional[Mapping[str, str]] = None,
) -> subprocess.CompletedProcess[str]:
    """``launch.py``'s command line in this process, for checks of what it says and exits with before any job
    starts (bad input: one line, exit 2), or of a short run whose subject is not the process; saves the ~6 s a new
    process spends importing torch. Its output is captured; the working dir, ``sys.argv``, the environment, the
    logging setup Hydra changes and the run dir's lock are restored or released.
    Runs that train, and anything a signal or a second process must see, go through :func:`launch`."""
    import contextlib
    import io
    import logging

    import launch as entry  # launch.py, the repository root being on sys.path

    root, saved_env, saved_argv, saved_cwd = logging.getLogger(), dict(os.environ), sys.argv, os.getcwd()
    handlers, level = list(root.handlers), root.level
    out, err = io.StringIO(), io.StringIO()
    env = launch_env(cwd / "cache", wandb_dir, env_extra)  # the environment a launch.py process would get
    env["HYDRA_MAIN_MODULE"] = "__main__"  # Hydra finds conf/ beside launch.py, as when it is the script
    os.environ.clear()
    os.environ.update(env)
    argv = [str(ROOT / "launch.py"), *(["-m"] if multirun else []), *overrides]
    sys.argv = argv
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = entry.cli()
            except SystemExit as exit_:  # Hydra's own errors (a bad override) end this way
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        from birsweep.run_lock import RunDirLock

        RunDirLock().on_run_end(OmegaConf.create())  # a run that failed keeps its dir's lock (Hydra ends only
        os.chdir(saved_cwd)  # successful ones): released, as the end of a launch.py process would
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def run_sweep(
    tmp_path: Path,
    *overrides: str,
    timeout: float = 600,
    tiny: bool = True,
    env_extra: Optional[Dict[str, str]] = None,
    wait: bool = True,
    in_process: bool = False,
):
    """``python launch.py -m`` with the Optuna sweeper in ``tmp_path`` (the sweep dir is ``tmp_path/sweep``);
    ``debug=tiny`` runs by default; ``in_process``: through :func:`cli`, for sweeps refused before any job."""
    args = [*SWEEP, *(TINY if tiny else []), f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides]
    if in_process:
        return cli(*args, cwd=tmp_path, multirun=True, env_extra=env_extra)
    if not wait:
        return start(*args, cwd=tmp_path, multirun=True, env_extra=env_extra)
    return launch(*args, cwd=tmp_path, multirun=True, env_extra=env_extra, timeout=timeout)


def load_study(storage: str, name: str) -> optuna.Study:
    from birsweep.sweep.search.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(storage))


def states(study: optuna.Study) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def record_of(trial: optuna.trial.FrozenTrial, sweep_dir: Path) -> Optional[dict]:
    run_dir = sweep_dir / str(trial.number)
    return record.load(run_dir) if (run_dir / record.RESULTS).exists() else None


# Optuna state name -> the job record's status (an interrupted job's trial is FAIL too: failed is the word kept)
RECORD_STATUS = {s.trial_state: s.value for s in RunStatus if s is not RunStatus.INTERRUPTED}


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
