"""Many trials in one process (birsweep/train/batched/run.py): a batched trial's record is the one it has alone."""

from __future__ import annotations

import math
from pathlib import Path
from typing import List

import pytest

from birsweep.app import run
from birsweep.errors import RunPruned
from birsweep.tracking import record
from birsweep.tracking.record_fields import RunStatus
from birsweep.train.batched.run import BatchTrial, not_batchable, train_batched
from birsweep.train.loop.callbacks import RunCallback, TaskEnd
from tests.helpers import TINY, make_cfg

# 3 tasks of 2 classes: replay, SI and the variants' terms act from task 2, as over debug=tiny's 5
BASE = [*TINY, "trainer.threads=1", "data.synthetic.n_classes=6", "data.n_tasks=3"]
# the per-trial values (birsweep/train/batched/keys.py): seed, lr, SI strength (0 = off) and distillation temperature
TRIALS = [
    ["seed=0", "trainer.lr=0.001"],
    ["seed=3", "trainer.lr=0.003", "model.si_c=1.0"],
    ["seed=11", "model.distill_temp=1.5", "model.si_c=0"],
]
LOSS_RTOL = 1e-5  # float reassociation in batched kernels; measured 5e-7 (the record keeps 6 digits)


def _batch(tmp_path: Path, trials: List[List[str]]) -> List[BatchTrial]:
    batch = [BatchTrial(make_cfg(BASE + t), str(tmp_path / f"batched{k}")) for k, t in enumerate(trials)]
    train_batched(batch)
    return batch


# variant trials: the terms' gradients amplify the reassociation from task to task; measured over 5 tasks: up to 8e-5
# in task 5 (recon with lamda_atr=1), 2e-6 (repulsion), with the acc_matrix identical
VARIANT_LOSS_RTOL = 2e-4


def _assert_same_losses(alone: dict, batched: dict, rtol: float = LOSS_RTOL) -> None:
    assert len(alone["losses"]) == len(batched["losses"]) > 0
    for a, b in zip(alone["losses"], batched["losses"]):
        assert a.keys() == b.keys()
        for key in a:
            assert math.isclose(a[key], b[key], rel_tol=rtol, abs_tol=1e-6), (key, a, b)


def test_batched_trials_match_their_runs_alone(tmp_path):
    batch = _batch(tmp_path, TRIALS)
    finals = set()
    for k, (trial, overrides) in enumerate(zip(batch, TRIALS)):
        assert trial.status == RunStatus.COMPLETED, trial.reason
        run(make_cfg(BASE + overrides), str(tmp_path / f"alone{k}"), callbacks=[])
        alone, batched = record.load(tmp_path / f"alone{k}"), record.load(tmp_path / f"batched{k}")
        assert batched["acc_matrix"] == alone["acc_matrix"]
        assert batched["class_order"] == alone["class_order"]
        assert trial.objective == alone["objective"] == batched["objective"]
        _assert_same_losses(alone, batched)
        assert batched["config"]["seed"] == int(overrides[0].split("=")[1])
        assert ("si_penalty" in batched["losses"][-1]) == (batched["config"]["model"]["si_c"] > 0)
        finals.add(batched["final_avg_acc"])
        assert "batched trial" in batched["generator_eval"]["skipped"] and "ll" in alone["generator_eval"]
    assert len(finals) == len(TRIALS)  # distinct trials, distinct results


def test_batched_hard_target_trials_match_their_runs_alone(tmp_path):
    """method.targets=hard (ablation=no_distill): the batched step computes the eager step's objective."""
    trials = [["ablation=no_distill", "seed=0"], ["ablation=no_distill", "seed=3", "trainer.lr=0.003"]]
    batch = _batch(tmp_path, trials)
    for k, (trial, overrides) in enumerate(zip(batch, trials)):
        assert trial.status == RunStatus.COMPLETED, trial.reason
        run(make_cfg(BASE + overrides), str(tmp_path / f"alone{k}"), callbacks=[])
        alone, batched = record.load(tmp_path / f"alone{k}"), record.load(tmp_path / f"batched{k}")
        assert batched["acc_matrix"] == alone["acc_matrix"]
        _assert_same_losses(alone, batched)
        assert "pred_r" in batched["losses"][-1] and "distil_r" not in batched["losses"][-1]


def test_a_nan_trial_fails_alone(tmp_path):
    batch = _batch(tmp_path, [["seed=1"], ["seed=2", "trainer.lr=1e6"], ["seed=3"]])
    assert [t.status for t in batch] == [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPLETED]
    assert "NonFiniteLossError" in (batch[1].reason or "")
    failed = record.load(tmp_path / "batched1")
    assert failed["status"] == "failed" and "became" in failed["error"]
    assert len(failed["acc_matrix"]) < 3
    # the trials around it still follow their runs alone
    run(make_cfg(BASE + ["seed=3"]), str(tmp_path / "alone"), callbacks=[])
    assert record.load(tmp_path / "batched2")["acc_matrix"] == record.load(tmp_path / "alone")["acc_matrix"]


@pytest.mark.parametrize(
    "override, why",
    [
        ("variant=contrastive", "contrastive"),
        ("data.augment=true", "data.augment"),
        ("resume=true", "resume"),
        ("ablation=no_gating", "ablation switch"),
        ("ablation=no_conditional", "ablation switch"),
    ],
)
def test_what_the_batched_trainer_does_not_take(override, why):
    assert why in (not_batchable(make_cfg(BASE + [override])) or "")
    assert not_batchable(make_cfg(BASE)) is None
    assert not_batchable(make_cfg(BASE + ["variant=repulsion"])) is None
    assert not_batchable(make_cfg(BASE + ["ablation=no_distill"])) is None  # hard targets: the one objective
    assert not_batchable(make_cfg(BASE + ["variant=recon", "variant.recon.repulsion=true"])) is None


# variant trials with their own searched values: weights, floors, the repulsion factor (LossTerm.per_trial)
VARIANT_TRIALS = {
    "repulsion": [
        ["seed=0", "variant.repulsion.lamda_rep=0.1"],
        ["seed=3", "variant.repulsion.lamda_rep=0.5", "variant.rep_f=5"],
    ],
    "recon": [
        ["seed=0", "variant.recon.lamda_rep=0.1", "variant.recon.lamda_atr=0.2"],
        ["seed=3", "variant.recon.lamda_rep=1e-3", "variant.recon.lamda_atr=1.0", "variant.rep_f=5"],
    ],
}
VARIANT_BASE = {
    "repulsion": ["variant=repulsion", "variant.use_rep_f=true"],
    "recon": ["variant=recon", "variant.recon.repulsion=true", "variant.recon.attraction=true"],
}


@pytest.mark.parametrize("variant", sorted(VARIANT_TRIALS))
def test_batched_variant_trials_match_their_runs_alone(tmp_path, variant):
    trials = [VARIANT_BASE[variant] + t for t in VARIANT_TRIALS[variant]]
    batch = _batch(tmp_path, trials)
    participation = []
    for k, (trial, overrides) in enumerate(zip(batch, trials)):
        assert trial.status == RunStatus.COMPLETED, trial.reason
        run(make_cfg(BASE + overrides), str(tmp_path / f"alone{k}"), callbacks=[])
        alone, batched = record.load(tmp_path / f"alone{k}"), record.load(tmp_path / f"batched{k}")
        assert batched["acc_matrix"] == alone["acc_matrix"]
        _assert_same_losses(alone, batched, VARIANT_LOSS_RTOL)  # the term's value and count included
        assert batched["participation"] == alone["participation"] and batched["inert_terms"] == alone["inert_terms"]
        participation.append(batched["participation"])
    assert len({str(p) for p in participation}) == len(trials)  # the per-trial values changed what the terms did
    assert any(sum(sum(v) for v in p.values()) > 0 for p in participation)  # a term acted


def test_each_batched_trial_has_its_own_wandb_run(tmp_path, monkeypatch):
    from analysis.wandb_offline import find_runs, history_of, read_run
    from birsweep.app import job_callbacks
    from tests.helpers import SMALL_WANDB

    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-default"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.delenv("WANDB_MODE")  # conftest disables W&B; logger.mode=offline decides
    cfgs = [make_cfg([*SMALL_WANDB, f"seed={s}", f"trainer.lr={lr}"]) for s, lr in ((1, 1e-3), (2, 3e-3))]
    batch = [BatchTrial(c, str(tmp_path / f"t{k}"), job_callbacks(c, several_runs=True)) for k, c in enumerate(cfgs)]
    train_batched(batch)
    assert [t.status for t in batch] == [RunStatus.COMPLETED] * 2
    for k, cfg in enumerate(cfgs):
        runs = find_runs(str(tmp_path / f"t{k}"))
        assert len(runs) == 1, runs
        run = read_run(runs[0], wait=60)
        assert run["exit_code"] == 0 and run["config"]["seed"] == cfg.seed
        rec = record.load(tmp_path / f"t{k}")
        logged = [value for _, value in history_of(run, "train/loss")]
        assert logged == [row["loss"] for row in rec["losses"]]  # its own values, as its record keeps them


class PruneAfter(RunCallback):
    """Stands in for the trial handle: the pruner stops this trial after task ``task``."""

    def __init__(self, task: int):
        self.task = task

    def on_task_end(self, end: TaskEnd) -> None:
        if end.task == self.task:
            raise RunPruned(f"pruned after task {end.task}")


def test_a_pruned_trial_leaves_the_batch_and_the_others_go_on_unchanged(tmp_path):
    cfgs = [make_cfg(BASE + [f"seed={s}"]) for s in (4, 5, 6)]
    batch = [BatchTrial(c, str(tmp_path / f"batched{k}")) for k, c in enumerate(cfgs)]
    batch[1].callbacks = [PruneAfter(2)]
    train_batched(batch)
    assert [t.status for t in batch] == [RunStatus.COMPLETED, RunStatus.PRUNED, RunStatus.COMPLETED]
    pruned = record.load(tmp_path / "batched1")
    assert pruned["status"] == "pruned" and pruned["tasks_done"] == 2
    run(cfgs[2], str(tmp_path / "alone"), callbacks=[])
    alone, batched = record.load(tmp_path / "alone"), record.load(tmp_path / "batched2")
    assert batched["acc_matrix"] == alone["acc_matrix"]
    _assert_same_losses(alone, batched)
