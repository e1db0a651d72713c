"""What a sweep tells its jobs: a trial's overrides and the storage the jobs open (no Optuna, no launch)."""

from __future__ import annotations

import pytest
from omegaconf import DictConfig, OmegaConf

from birsweep.errors import ConfigError
from birsweep.sweep.search.study import storage_urls
from birsweep.sweep.search.trial_overrides import trial_overrides


def _overrides(threads: str | None) -> list[str]:
    return trial_overrides(
        ["model.z_dim=10", "variant.rep_f=3.5"],
        threads,
        storage="${oc.env:STUDY_DB}",
        study_name="s1",
        number=7,
        pruner={"_target_": "optuna.pruners.NopPruner"},
        params={"variant.rep_f": 3.5},
        owner="host|12|1.5",
        lost_after=600.0,
        heartbeat=30.0,
    )


def test_a_trials_overrides_are_its_params_then_its_identity():
    assert _overrides("trainer.threads=1") == [
        "model.z_dim=10",
        "variant.rep_f=3.5",
        "trainer.threads=1",
        "+optuna=trial",
        "optuna.storage=${oc.env:STUDY_DB}",  # resolved in the job, never written out
        "optuna.study_name=s1",
        "optuna.trial_number=7",
        "optuna.pruner={_target_:optuna.pruners.NopPruner}",
        "optuna.params={variant.rep_f:3.5}",
        "optuna.owner=host|12|1.5",
        "optuna.sweep_lost_after=600.0",
        "optuna.heartbeat_interval=30.0",
    ]
    assert "trainer.threads=1" not in _overrides(None) and len(_overrides(None)) == 11


def _config(storage: object) -> DictConfig:
    return OmegaConf.create({"hydra": {"sweeper": {"storage": storage}}})


def test_jobs_get_an_env_interpolation_as_written_and_the_sweep_dir_db_by_default(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    assert storage_urls(_config("${oc.env:STUDY_DB}"), url, str(tmp_path)) == (url, "${oc.env:STUDY_DB}")
    assert storage_urls(_config(url), url, str(tmp_path)) == (url, url)
    default = f"sqlite:///{tmp_path}/optuna.db"
    assert storage_urls(_config(None), None, str(tmp_path)) == (default, default)


def test_a_literal_password_in_the_config_is_refused():
    url = "postgresql://user:secret@host/db"
    with pytest.raises(ConfigError, match="literal password") as err:
        storage_urls(_config(url), url, "/tmp")
    assert "secret" not in str(err.value)
