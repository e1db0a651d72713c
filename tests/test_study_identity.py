"""A study remembers the fixed settings it was created with; a re-run with others stops with one line."""

from __future__ import annotations

import optuna
import pytest
from omegaconf import OmegaConf

from birsweep.sweep.search.identity import DIGEST_ATTR, SETTINGS_ATTR, differences, digest, fixed_settings
from tests.helpers import SWEEP, TINY, cli, load_study


def test_fixed_settings_leave_out_searched_and_result_neutral_keys():
    cfg = OmegaConf.create(
        {
            "seed": 0,
            "trainer": {"iters": 30, "lr": 0.1, "progress": False},
            "variant": {"rep_f": 20.0, "repulsion": {"lamda_rep": 1e-6}},
            "paths": {"runs_dir": "/x"},
            "hydra": {"mode": "MULTIRUN"},
            "optuna": None,
        }
    )
    fixed = fixed_settings(cfg, ["trainer.lr", "variant.repulsion"], ["model.z_dim=8"])
    assert fixed == {
        "seed": 0,
        "trainer.iters": 30,
        "variant.rep_f": 20.0,
        "<fixed sweep overrides>": ["model.z_dim=8"],
    }
    assert digest(fixed) == digest(dict(reversed(list(fixed.items()))))
    assert differences({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ["b: 2 -> 3", "c: '<unset>' -> 4"]


def _sweep(tmp_path, *overrides, multirun=True):
    """launch.py's command line in this process: the subject is the study's rule, not the process."""
    return cli(
        *SWEEP,
        "hparams_search=repulsion",
        *TINY,
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "hydra.sweeper.study_name=ident",
        *overrides,
        cwd=tmp_path,
        multirun=multirun,
    )


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_other_fixed_settings_stop_with_one_line_and_presets_need_no_dash_m(tmp_path):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"
    first = _sweep(tmp_path, "hydra.sweeper.n_trials=1", "trainer.iters=20", multirun=False)  # no -m
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    study = load_study(storage, "ident")
    assert len(study.trials) == 1
    assert study.user_attrs[SETTINGS_ATTR]["trainer.iters"] == 20
    assert "variant.rep_f" not in study.user_attrs[SETTINGS_ATTR]  # searched
    kept = study.user_attrs[DIGEST_ATTR]

    other = _sweep(tmp_path, "hydra.sweeper.n_trials=2", "trainer.iters=25", "model.z_dim=8")
    assert other.returncode == 2
    lines = other.stderr.strip().splitlines()
    assert lines[-1].startswith("error: study 'ident' was created with other fixed settings (")
    assert "model.z_dim: 16 -> 8" in lines[-1] and "trainer.iters: 20 -> 25" in lines[-1]
    assert "hydra.sweeper.study_name=" in lines[-1]
    study = load_study(storage, "ident")
    assert len(study.trials) == 1 and study.user_attrs[DIGEST_ATTR] == kept

    # the same fixed settings resume it (with -m too); a budget change is not a different study
    same = _sweep(tmp_path, "hydra.sweeper.n_trials=2", "trainer.iters=20")
    assert same.returncode == 0, same.stdout[-3000:] + same.stderr[-3000:]
    trials = load_study(storage, "ident").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
