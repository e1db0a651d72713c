"""A trial whose variant term never fires is marked inert in its record, in Optuna's storage and in the summary."""

from __future__ import annotations

import optuna
import pytest
import yaml

from birsweep.sweep.search.storage import open_storage
from tests.helpers import load_study, record_of, run_sweep


@pytest.mark.slow  # a sweep: over 10 s on a loaded core (make test-all)
def test_a_tiny_sweep_marks_the_trial_whose_term_never_fired(tmp_path):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"
    (tmp_path / "sweep").mkdir()
    study = optuna.create_study(study_name="inert", storage=open_storage(storage), direction="maximize")
    study.enqueue_trial({"variant.repulsion.enabled": True})  # trial 0: repulsion that can never fire
    study.enqueue_trial({"variant.repulsion.enabled": False})  # trial 1: only attraction, which always acts
    out = run_sweep(
        tmp_path,
        "variant=recon",
        "variant.recon.repulsion=false",
        "variant.use_rep_f=true",
        "variant.rep_f=0.5",  # p(c0) < 0.5 p(c1) never holds: c0 is the top class
        "variant.repulsion.enabled=choice(true, false)",
        "hydra.sweeper.study_name=inert",
        "hydra.sweeper.n_trials=2",
        in_process=True,  # launch.py's command line in this process: the subject is the record and the summary
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    trials = load_study(storage, "inert").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert trials[0].user_attrs["inert_terms"] == ["repulsion"] and trials[1].user_attrs["inert_terms"] == []
    rec0, rec1 = (record_of(t, tmp_path / "sweep") for t in trials)
    assert rec0["inert_terms"] == ["repulsion"] and rec0["participation"]["repulsion"] == [0] * 5
    assert rec0["participation"]["recon_atr"][1] > 0
    assert rec1["inert_terms"] == [] and set(rec1["participation"]) == {"recon_atr"}
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    inert = results["inert_trials"]
    assert inert["complete_trials"] == 1 and inert["trials"] == [0] and inert["terms"] == ["repulsion"]
    assert "baseline" in inert["note"]
    assert "inert: 1 of 2 complete trials had a term that never fired (repulsion)" in out.stdout
    assert "equal the baseline's (#0)" in out.stdout
