"""Confirmation runs are claimed once (birsweep/sweep/alive/claims.py): a live sweep's claim holds, a dead one's is
taken over (dead pid on this host; a beat that stopped changing elsewhere), and two real sweeps of one study that
reach the confirmation stage together launch every run exactly once between them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from birsweep.sweep.alive.claims import CLAIM_FILE, Claims
from birsweep.sweep.alive.owner import Owner
from tests.helpers import run_sweep


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _claims(tmp_path, owner, clock=None):
    return Claims(owner, interval=1.0, lost_after=60.0, clock=clock or Clock())


def test_a_live_sweeps_claim_holds_and_a_dead_ones_is_taken_over(tmp_path):
    run = str(tmp_path / "confirm" / "baseline" / "seed_1")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        theirs = _claims(tmp_path, Owner(Owner.current().host, other.pid))  # another sweep, alive on this host
        assert theirs.try_claim(run)
        mine = _claims(tmp_path, Owner.current())
        assert not mine.try_claim(run), "another live sweep holds it"
        other.kill()
        other.wait()
        assert mine.try_claim(run), "its sweep died: taken over"
        assert Owner.decode(json.loads((tmp_path / "confirm/baseline/seed_1" / CLAIM_FILE).read_text())["owner"]) == (
            Owner.current()
        )
        mine.release(run)
        assert not (tmp_path / "confirm/baseline/seed_1" / CLAIM_FILE).exists()
    finally:
        if other.poll() is None:
            other.kill()


def test_another_hosts_claim_is_taken_over_once_its_beat_stops_changing(tmp_path):
    run = str(tmp_path / "confirm" / "trial_0" / "seed_1")
    remote = _claims(tmp_path, Owner("elsewhere", 1, "1"))
    assert remote.try_claim(run)
    clock = Clock()
    mine = _claims(tmp_path, Owner.current(), clock)
    for _ in range(5):  # it beats: held however long it runs
        clock.t += 50
        remote.beat()
        assert not mine.try_claim(run)
    clock.t += 59  # silent, within the bound
    assert not mine.try_claim(run)
    clock.t += 2  # silent for more than lost_after
    assert mine.try_claim(run)


ARGS = [
    "variant=repulsion",
    "variant.repulsion.lamda_rep=tag(log, interval(1e-3, 10.0))",
    "data.n_tasks=2",
    "trainer.iters=10",
    "hydra.sweeper.study_name=twice",
    "hydra.sweeper.n_trials=2",
]


@pytest.mark.slow
def test_two_sweeps_reaching_confirmation_together_run_each_run_once(tmp_path):
    out = run_sweep(tmp_path, *ARGS, in_process=True)  # the search, done once (in this process)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    confirm = [*ARGS, 'hydra.sweeper.confirm={top_k: 1, seeds: 3, baseline: "variant=baseline"}']
    (tmp_path / "b").mkdir()
    procs = [run_sweep(tmp_path, *confirm, wait=False)]
    # the second sweep: same storage and sweep dir, its console in another file
    procs.append(run_sweep(tmp_path / "b", *confirm, f"hydra.sweep.dir={tmp_path / 'sweep'}", wait=False))
    for p in procs:
        assert p.wait(timeout=900) == 0
    outputs = [(tmp_path / "launch.out").read_text(), (tmp_path / "b" / "launch.out").read_text()]
    ran = [re.findall(r"confirm (trial \d+|baseline) seed (\d+): test", o) for o in outputs]
    every = sorted(ran[0] + ran[1])
    assert len(every) == 6 and len(set(every)) == 6, ran  # 2 arms x 3 seeds, each launched by one sweep only
    sweep = tmp_path / "sweep" / "confirm"
    records = [json.loads(p.read_text()) for p in sweep.rglob("results.json")]
    assert len(records) == 6 and all(r["status"] == "completed" for r in records)
    assert not list(sweep.rglob(CLAIM_FILE)), "claims are released"
    for o in outputs:  # both summaries have every result
        assert "(6/6 runs completed" in o, o[-2000:]
