"""``trainer.max_tasks``: a run of only the first N tasks of a protocol, recorded as such."""

from birsweep.tracking import record
from birsweep.train.loop.run import train
from tests.helpers import TINY, cli, make_cfg


def test_first_tasks_only_train_as_the_full_run_did_and_say_so(tmp_path):
    train(make_cfg(TINY), str(tmp_path / "full"))
    train(make_cfg([*TINY, "trainer.max_tasks=2"]), str(tmp_path / "part"))
    f, p = record.load(tmp_path / "full"), record.load(tmp_path / "part")
    assert (f["n_tasks"], f["protocol_tasks"]) == (5, 5)
    assert (p["n_tasks"], p["protocol_tasks"], p["tasks_done"], p["status"]) == (2, 5, 2, "completed")
    # the same training: the first two tasks' accuracies and losses are those of the full run
    assert p["acc_matrix"] == [row[:2] for row in f["acc_matrix"][:2]]
    assert p["losses"] == [row for row in f["losses"] if row["task"] <= 2]
    assert p["final_avg_acc"] == p["avg_acc"][-1] == f["avg_acc"][1]
    assert p["class_order"] == f["class_order"]  # the protocol's split is kept
    assert (tmp_path / "part" / "metrics.csv").read_text().splitlines()[0].count("acc_task_") == 2


def test_more_tasks_than_the_protocol_has_is_refused(tmp_path):
    out = cli(*TINY, "trainer.max_tasks=6", "hydra.run.dir=bad", cwd=tmp_path)
    assert out.returncode == 2
    assert "trainer.max_tasks=6 exceeds data.n_tasks=5" in out.stderr
    assert not (tmp_path / "bad" / "results.json").exists()
