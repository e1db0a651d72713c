"""No parameter set twice in a study: resumed, side by side on one storage; one uninterrupted sweep reproducible."""

from __future__ import annotations

import os
import signal
from collections import Counter

import optuna
import pytest

from birsweep.sweep.search.ask import ask
from birsweep.sweep.search.distinct import DistinctSampler, trial_seed
from birsweep.sweep.search.grammar import parse_search_space
from birsweep.sweep.search.storage import open_storage
from tests.gate import gate, wait_until_reached
from tests.helpers import load_study, run_sweep, states

SMALL = {"a": "choice(x, y)", "b": "choice(1, 2, 3)"}  # 6 parameter sets


def _sampler(seed=0, space=SMALL):
    return DistinctSampler(lambda s: optuna.samplers.RandomSampler(seed=s), seed, parse_search_space(space))


def _run(study, sampler, n, value=0.5):
    space = sampler.space
    study.sampler = sampler
    sets = []
    for _ in range(n):
        trial, params = ask(study, space)
        study.tell(trial, value)
        sets.append(params)
    return sets


def test_new_processes_on_one_study_never_repeat_a_set_until_the_space_is_used_up():
    study = optuna.create_study(direction="maximize")
    _run(study, _sampler(), 2)
    _run(study, _sampler(), 2)  # a "re-run": a new sampler with the same seed
    _run(study, _sampler(), 2)
    sets = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(sets)) == 6  # every set of the space once


def test_two_samplers_asking_in_turn_do_not_collide():
    study = optuna.create_study(direction="maximize")
    one, two = _sampler(), _sampler()
    for _ in range(3):
        _run(study, one, 1)
        _run(study, two, 1)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 6


def test_one_sweep_with_a_seed_is_reproducible_and_seeds_differ_per_trial():
    space = {"lr": "tag(log, interval(1e-4, 1e-1))", "k": "choice(1, 2, 3)"}
    runs = []
    for _ in range(2):
        study = optuna.create_study(direction="maximize")
        runs.append(_run(study, _sampler(7, space), 5))
    assert runs[0] == runs[1]
    assert trial_seed(7, 0) != trial_seed(7, 1) and trial_seed(None, 3) is None


def test_a_conditional_parameter_counts_in_the_set():
    space = {"on": "choice(true, false)", "f": "when(on=true, choice(1, 2))"}  # 3 sets: off, on/1, on/2
    study = optuna.create_study(direction="maximize")
    sets = _run(study, _sampler(0, space), 3)
    assert sorted(map(repr, sets)) == sorted(map(repr, [{"on": False}, {"on": True, "f": 1}, {"on": True, "f": 2}]))


# --- end to end ---------------------------------------------------------------------------------------------------
LR = "trainer.lr=tag(log, interval(1e-4, 1e-2))"  # continuous: a repeated set is a replayed draw, not chance


def _lrs(storage, name):
    return [t.params.get("trainer.lr") for t in load_study(storage, name).trials]


def _assert_distinct(storage, name):
    lrs = _lrs(storage, name)
    assert all(v is not None for v in lrs) and not [v for v, n in Counter(lrs).items() if n > 1], lrs


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_a_killed_and_rerun_study_holds_no_set_twice(tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    args = [LR, "trainer.iters=20", f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=resume"]
    gates = tmp_path / "gates"
    gates.mkdir()
    proc = run_sweep(tmp_path, *args, "hydra.sweeper.n_trials=6", *gate(gates, task=1, jobs="2"), wait=False)
    try:  # killed once two trials are done, the third held after its first task (tests/gate.py)
        wait_until_reached(gates, "2", lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert states(load_study(storage, "resume")) == {"COMPLETE": 2, "RUNNING": 1}
    out = run_sweep(tmp_path, *args, "hydra.sweeper.n_trials=5", in_process=True)  # the re-run, in this process
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert len(load_study(storage, "resume").trials) >= 5
    _assert_distinct(storage, "resume")


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_two_sweeps_started_together_on_one_storage_hold_no_set_twice(tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    # the storage exists first: two processes creating one SQLite file's tables at once is a storage matter
    optuna.create_study(study_name="pair", storage=open_storage(storage), direction="maximize")
    procs = []
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        procs.append(
            run_sweep(
                tmp_path / side,
                LR,
                "trainer.iters=20",
                f"hydra.sweeper.storage={storage}",
                "hydra.sweeper.study_name=pair",
                "hydra.sweeper.n_trials=6",
                wait=False,
            )
        )
    for p in procs:
        assert p.wait(timeout=900) == 0, [(tmp_path / s / "launch.out").read_text()[-2000:] for s in "ab"]
    assert len(load_study(storage, "pair").trials) >= 6
    _assert_distinct(storage, "pair")


@pytest.mark.slow  # a real sweep: over 10 s (make test-all)
def test_the_same_seed_in_two_fresh_dirs_proposes_the_same_sequence(tmp_path):
    seqs = []
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        out = run_sweep(  # launch.py's command line in this process: the subject is the sampler's proposals
            tmp_path / side,
            LR,
            "trainer.iters=10",
            "hydra.sweeper.study_name=rep",
            "hydra.sweeper.n_trials=3",
            in_process=True,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        seqs.append(_lrs(f"sqlite:///{tmp_path / side}/sweep/optuna.db", "rep"))
    assert seqs[0] == seqs[1] and len(set(seqs[0])) == 3
