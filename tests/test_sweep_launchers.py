"""Launchers: SLURM settings rendered into the sbatch script (no cluster needed), and a real sweep through
submitit's local executor."""

import os

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tests.helpers import assert_records_agree, compose_with_hydra, load_study, run_sweep, states


def test_slurm_launcher_fits_an_hour_long_gpu_run(tmp_path, monkeypatch):
    submitit = pytest.importorskip("submitit")
    from submitit.slurm.slurm import _make_sbatch_string

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit only checks that srun exists
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")

    cfg = compose_with_hydra(
        [
            "hydra/launcher=slurm",
            "hparams_search=repulsion",
            "hydra.launcher.partition=gpu",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    launcher = instantiate(cfg.hydra.launcher)
    assert type(launcher).__name__ == "SlurmLauncher"
    assert launcher.params["timeout_min"] >= 90 and launcher.params["gpus_per_task"] == 1
    # the launcher's own translation of its keys into submitit's, then the sbatch script submitit would submit
    executor = submitit.AutoExecutor(folder=str(tmp_path / "sub"), cluster="slurm")
    base = set(
        OmegaConf.structured(
            __import__("hydra_plugins.hydra_submitit_launcher.config", fromlist=["BaseQueueConf"]).BaseQueueConf
        ).keys()
    )
    executor.update_parameters(
        **{
            k if k in base else f"slurm_{k}": v
            for k, v in launcher.params.items()
            if k not in ("submitit_folder", "max_num_timeout")
        }
    )
    script = _make_sbatch_string(
        command="python launch.py", folder=str(tmp_path / "sub"), **executor._executor.parameters
    )
    assert "#SBATCH --time=120" in script and "#SBATCH --gpus-per-task=1" in script
    assert "#SBATCH --partition=gpu" in script and "#SBATCH --cpus-per-task=8" in script


@pytest.mark.slow
def test_a_sweep_through_submitit_local(tmp_path):
    pytest.importorskip("submitit")
    # submitit's job processes import the sweeper's plugin module from the pickled Hydra state: the launcher's
    # environment puts this checkout on PYTHONPATH
    out = run_sweep(
        tmp_path,
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        "trainer.lr=tag(log, interval(1e-4, 1e-2))",
        "hydra.sweeper.study_name=local",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.n_jobs=2",
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(f"sqlite:///{tmp_path}/sweep/optuna.db", "local")
    assert states(study) == {"COMPLETE": 3}
    assert_records_agree(study, tmp_path / "sweep")
    assert (tmp_path / "sweep" / ".submitit").is_dir()
    # each trial reported after every task from its own submitit process
    assert all(len(t.intermediate_values) == 5 for t in study.trials)
    cfg = OmegaConf.load(tmp_path / "sweep" / "0" / ".hydra" / "config.yaml")
    assert cfg.trainer.threads == 1  # jobs side by side on this machine: one torch thread each
