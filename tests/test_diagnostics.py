"""Memory-exaggeration diagnostics: right shapes and ranges, hand-checked pieces, and no effect on training."""

from __future__ import annotations

import math

import pytest
import torch

from birsweep.tracking import record
from birsweep.train.diagnostics import symmetric_kl, top_confused_pairs
from birsweep.train.loop.run import train


def test_symmetric_kl_matches_the_closed_form_and_is_symmetric():
    mu_a, lv_a = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, math.log(4.0)]])
    mu_b, lv_b = torch.tensor([[2.0, 1.0]]), torch.tensor([[0.0, 0.0]])
    # dim 1: var 1 vs 1, diff 2 -> 0.5 * (1 + 1 + 4 * 2 - 2) = 4; dim 2: var 4 vs 1 -> 0.5 * (4 + 1/4 - 2) = 1.125
    assert symmetric_kl(mu_a, lv_a, mu_b, lv_b).item() == pytest.approx(5.125)
    assert symmetric_kl(mu_b, lv_b, mu_a, lv_a).item() == pytest.approx(5.125)
    assert symmetric_kl(mu_a, lv_a, mu_a, lv_a).item() == pytest.approx(0.0)


def test_top_pairs_rank_old_pairs_by_symmetric_confusion_rate():
    confusion = torch.tensor(
        [
            [8, 2, 0, 0],  # 10 samples of class 0, 2 taken for class 1
            [3, 7, 0, 0],
            [1, 0, 9, 5],  # class 3 is new: pairs with it are not among the old ones
            [0, 0, 5, 5],
        ]
    )
    a, b, rate = top_confused_pairs(confusion, n_old=3, k=5)
    pairs = list(zip(a.tolist(), b.tolist()))
    assert pairs == [(0, 1), (0, 2), (1, 2)]
    assert rate.tolist() == pytest.approx([5 / 20, 1 / 25, 0.0])
    assert top_confused_pairs(confusion, n_old=3, k=1)[0].tolist() == [0]


def test_a_tiny_run_records_diagnostics_of_the_right_shapes(tiny_cfg, tmp_path):
    cfg = tiny_cfg("variant=recon", "diagnostics.top_pairs=3", "diagnostics.replay_per_class=7")
    train(cfg, str(tmp_path))
    rec = record.load(tmp_path)
    diags = rec["diagnostics"]
    assert [d["task"] for d in diags] == [1, 2, 3, 4, 5]
    test_per_class = cfg.data.synthetic.test_per_class
    order = [c for task in rec["class_order"] for c in task]
    for t, d in enumerate(diags, start=1):
        n_seen, n_old = 2 * t, 2 * (t - 1)
        assert d["classes"] == order[:n_seen] and d["n_old"] == n_old
        conf = d["confusion"]
        assert len(conf) == n_seen and all(len(row) == n_seen for row in conf)
        assert [sum(row) for row in conf] == [test_per_class] * n_seen  # rows: every test sample of the class
        # the diagonal gives the recorded accuracy of each task
        for k in range(t):
            hits = sum(conf[c][c] for c in range(2 * k, 2 * k + 2))
            assert hits / (2 * test_per_class) == pytest.approx(rec["acc_matrix"][t - 1][k], abs=1e-6)
        assert len(d["pairs"]) == min(3, n_old * (n_old - 1) // 2)
        rates = [p["rate"] for p in d["pairs"]]
        assert rates == sorted(rates, reverse=True) and all(0 <= r <= 1 for r in rates)
        for p in d["pairs"]:
            i, j = (order.index(c) for c in p["classes"])
            assert i < j < n_old
            assert p["rate"] == pytest.approx((conf[i][j] + conf[j][i]) / (2 * test_per_class), abs=1e-6)
            assert p["skl"] >= 0 and p["distance"] >= 0
        assert len(d["replay_acc"]) == n_seen and all(round(a * 7, 4).is_integer() for a in d["replay_acc"])
        expected_old = sum(d["replay_acc"][:n_old]) / n_old if n_old else None
        assert d["replay_acc_old"] == (None if expected_old is None else pytest.approx(expected_old, abs=1e-6))
        assert d["participation"] == {k: v[t - 1] for k, v in rec["participation"].items()}


def test_diagnostics_on_or_off_leave_every_number_unchanged(tiny_cfg, tmp_path):
    on, off = tmp_path / "on", tmp_path / "off"
    train(tiny_cfg("variant=recon"), str(on))
    train(tiny_cfg("variant=recon", "diagnostics.enabled=false"), str(off))
    a, b = record.load(on), record.load(off)
    assert a["acc_matrix"] == b["acc_matrix"] and a["losses"] == b["losses"]
    assert a["participation"] == b["participation"]
    assert len(a["diagnostics"]) == 5 and b["diagnostics"] == []


def test_diagnostics_leave_the_global_rng_and_the_model_mode_alone(tiny_cfg, tmp_path):
    from birsweep.train.loop.run import Run

    run = Run(tiny_cfg(), str(tmp_path))
    run.setup()
    run.model.train()
    state = torch.get_rng_state()
    entry = run.diagnostics(run.model, 1, {})
    assert torch.equal(torch.get_rng_state(), state) and run.model.training
    assert entry == run.diagnostics(run.model, 1, {})  # its own generator, seeded by the run's seed and the task


@pytest.mark.parametrize(
    "override, key", [("diagnostics.top_pairs=0", "top_pairs"), ("diagnostics.replay_per_class=-1", "replay_per_class")]
)
def test_bad_diagnostics_settings_are_one_line_errors(tiny_cfg, override, key):
    from birsweep.config_check import check_config
    from birsweep.errors import ConfigError

    with pytest.raises(ConfigError, match=f"diagnostics.{key}=.* is out of range"):
        check_config(tiny_cfg(override))
