"""The validation split (``data.val_fraction``): held out of the training set per class, and what a sweep tunes on."""

from __future__ import annotations

from typing import List

import pytest
import torch

from birsweep.app import run
from birsweep.data.stream import ClassIncrementalStream
from birsweep.tracking import record
from tests.helpers import TINY, cli, load_study, make_cfg, run_sweep


def _stream(val_fraction: float, seed: int = 3) -> ClassIncrementalStream:
    gen = torch.Generator().manual_seed(0)
    train_y = torch.randint(0, 6, (600,), generator=gen)
    test_y = torch.randint(0, 6, (120,), generator=gen)
    return ClassIncrementalStream(train_y, test_y, 6, 3, seed, val_fraction=val_fraction)


def _val(s: ClassIncrementalStream) -> List[torch.Tensor]:
    assert s.val_idx is not None
    return s.val_idx


def test_val_indices_are_held_out_per_class_and_disjoint_from_training():
    plain, split = _stream(0.0), _stream(0.25)
    assert plain.val_idx is None
    assert torch.equal(plain.perm, split.perm)  # the class order does not depend on the split
    for k in range(3):
        train, val = set(split.train_idx[k].tolist()), set(_val(split)[k].tolist())
        assert not train & val
        assert train | val == set(plain.train_idx[k].tolist())  # nothing lost, nothing from another task
        for label in range(2 * k, 2 * k + 2):
            n = int((split.train_y == label).sum())
            n_val = int((split.train_y[_val(split)[k]] == label).sum())
            assert n_val == round(0.25 * n)  # per class, not per task
    # seeded: the same seed holds out the same samples, another seed others
    assert all(torch.equal(a, b) for a, b in zip(_val(split), _val(_stream(0.25))))
    assert not all(torch.equal(a, b) for a, b in zip(_val(split), _val(_stream(0.25, seed=4))))


def test_without_a_split_the_training_indices_are_the_task_samples_in_order():
    s = _stream(0.0)
    for k in range(3):
        expected = torch.nonzero((s.train_y >= 2 * k) & (s.train_y < 2 * k + 2)).flatten()
        assert torch.equal(s.train_idx[k], expected)


def test_val_fraction_out_of_range_is_one_error_line(tmp_path):
    out = cli(*TINY, "data.val_fraction=1.0", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: data.val_fraction=1.0 is out of range")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("results.json"))


def test_a_run_without_split_records_test_as_objective(tmp_path):
    objective = run(make_cfg(TINY), str(tmp_path / "run"))  # what launch.py runs, in this process
    rec = record.load(tmp_path / "run")
    assert objective == rec["objective"]
    assert rec["objective_split"] == "test" and rec["objective"] == rec["final_avg_acc"]
    assert "val_acc_matrix" not in rec


@pytest.mark.slow  # a sweep: over 10 s on a loaded core (make test-all)
def test_a_sweep_with_a_split_tells_optuna_validation_accuracy_only(tmp_path):
    storage = f"sqlite:///{tmp_path}/sweep/optuna.db"
    out = run_sweep(
        tmp_path,
        "data.val_fraction=0.2",
        "trainer.lr=tag(log, interval(1e-4, 1e-2))",
        "hydra.sweeper.study_name=val",
        "hydra.sweeper.n_trials=2",
        in_process=True,  # launch.py's command line in this process: the subject is what Optuna is told
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(storage, "val")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for t in study.trials:
        rec = record.load(tmp_path / "sweep" / str(t.number))
        assert rec["objective_split"] == "val"
        assert len(rec["val_acc_matrix"]) == len(rec["acc_matrix"]) == rec["n_tasks"]
        assert t.value == rec["val_final_avg_acc"] == rec["objective"]
        assert t.intermediate_values == {k + 1: v for k, v in enumerate(rec["val_avg_acc"])}
        assert rec["val_avg_acc"] != rec["avg_acc"]  # else this test could not tell the two apart
