"""Participation: each loss term's exact count of participating samples per task, inert terms marked, resumed."""

from __future__ import annotations

import pytest
import torch

from birsweep.tracking import record
from birsweep.train.loop.callbacks import TaskEnd
from birsweep.train.loop.run import train
from birsweep.train.participation import Participation

# the repulsion factor's test p(c0) < f * p(c1) can never hold for f <= 1 (c0 is the top class): the term never fires
NEVER_FIRES = ["variant=repulsion", "variant.use_rep_f=true", "variant.rep_f=0.5"]


def test_the_meter_sums_exactly_on_the_device_and_restarts_per_task():
    meter = Participation(["a", "b"], torch.device("cpu"))
    for n in (3, 4, 5):
        meter.add({"a_n": torch.tensor(n), "b_n": torch.tensor(float(n % 2)), "loss": torch.tensor(1.0)})
    meter.add({"loss": torch.tensor(1.0)})  # a step without replay carries no counts
    assert meter.take() == {"a": 12, "b": 2}
    assert meter.take() == {"a": 0, "b": 0}
    assert Participation([], torch.device("cpu")).take() == {}


def test_counts_equal_the_hand_sum_of_the_logged_counts(tiny_cfg, tmp_path):
    cfg = tiny_cfg("variant=recon")
    train(cfg, str(tmp_path))
    rec = record.load(tmp_path)
    every, iters, batch = cfg.trainer.log_every, cfg.trainer.iters, cfg.trainer.batch_size
    assert set(rec["participation"]) == {"recon_rep", "recon_atr"}
    for term, per_task in rec["participation"].items():
        assert len(per_task) == 5 and per_task[0] == 0  # no replay in the first task
        for task in range(1, 6):
            rows = [row for row in rec["losses"] if row["task"] == task]
            assert per_task[task - 1] == round(sum(row.get(term + "_n", 0) * every for row in rows)), (term, task)
    assert rec["participation"]["recon_atr"][1:] == [iters * batch] * 4  # attraction acts on every replayed sample
    assert rec["inert_terms"] == [t for t in ("recon_rep",) if sum(rec["participation"][t]) == 0]
    assert [d["participation"] for d in rec["diagnostics"]] == [
        {t: rec["participation"][t][k] for t in rec["participation"]} for k in range(5)
    ]


def test_a_term_that_never_fires_is_marked_inert(tiny_cfg, tmp_path):
    train(tiny_cfg(*NEVER_FIRES), str(tmp_path / "inert"))
    rec = record.load(tmp_path / "inert")
    assert rec["participation"] == {"repulsion": [0] * 5} and rec["inert_terms"] == ["repulsion"]
    assert TaskEnd.of(rec, 5).inert_terms == ("repulsion",)
    train(tiny_cfg("variant=recon"), str(tmp_path / "active"))
    active = record.load(tmp_path / "active")
    assert "recon_atr" not in active["inert_terms"]
    assert TaskEnd.of(active, 1).inert_terms == tuple(active["participation"])  # no replay yet: none has acted
    train(tiny_cfg(), str(tmp_path / "baseline"))
    base = record.load(tmp_path / "baseline")
    assert base["participation"] == {} and base["inert_terms"] == []


def test_resume_keeps_participation_and_diagnostics(tiny_cfg, tmp_path):
    from tests.test_train import KillAfter

    stop_after = 2
    full, cut = tmp_path / "full", tmp_path / "cut"
    train(tiny_cfg("variant=recon"), str(full))
    with pytest.raises(KeyboardInterrupt):
        train(tiny_cfg("variant=recon"), str(cut), [KillAfter(stop_after)])
    assert len(record.load(cut)["diagnostics"]) == stop_after
    train(tiny_cfg("variant=recon"), str(cut))
    a, b = record.load(full), record.load(cut)
    assert b["resumed_from_task"] == stop_after
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]
    assert a["participation"] == b["participation"] and a["inert_terms"] == b["inert_terms"]
    assert a["diagnostics"] == b["diagnostics"]


def test_a_variant_whose_term_never_fires_is_bit_identical_to_the_baseline(tiny_cfg, tmp_path):
    """The terms draw from their own generator (birsweep/methods/term_noise.py): the global stream is the
    baseline's, so an inert term changes no number."""
    train(tiny_cfg(*NEVER_FIRES), str(tmp_path / "inert"))
    train(tiny_cfg(), str(tmp_path / "baseline"))
    inert, base = record.load(tmp_path / "inert"), record.load(tmp_path / "baseline")
    assert inert["inert_terms"] == ["repulsion"]
    assert inert["acc_matrix"] == base["acc_matrix"]
    assert len(inert["losses"]) == len(base["losses"]) > 0
    for mine, theirs in zip(inert["losses"], base["losses"]):
        assert {k: v for k, v in mine.items() if not k.startswith("repulsion")} == theirs
        assert mine.get("repulsion", 0.0) == 0.0 and mine.get("repulsion_n", 0.0) == 0.0
