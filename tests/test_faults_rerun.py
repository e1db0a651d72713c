"""Issue 19, item 8: the same command again over a completed run prints its result and changes nothing
(docs/faults.md); other settings are refused as on any resume, and ``resume=false`` starts over."""

from __future__ import annotations

from pathlib import Path

import pytest

from birsweep.app import run
from birsweep.errors import ResumeError
from birsweep.tracking import record
from birsweep.train.loop import checkpoint

FILES = (record.RESULTS, record.METRICS, checkpoint.CHECKPOINT)


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in FILES}


SHORT = ("trainer.max_tasks=1", "trainer.iters=10")  # a complete run, in a fraction of debug=tiny's time


def test_a_completed_run_rerun_is_left_byte_for_byte(tiny_cfg, tmp_path, capsys):
    run_dir = tmp_path / "run"
    first = run(tiny_cfg(*SHORT), str(run_dir))
    before = snapshot(run_dir)
    capsys.readouterr()
    again = run(tiny_cfg(*SHORT), str(run_dir))  # resume=auto, as the same command gives
    assert again == first
    assert snapshot(run_dir) == before
    line = capsys.readouterr().out
    assert "final average accuracy" in line and str(run_dir / record.RESULTS) in line
    assert record.load(run_dir)["timings"].get("first_step_s") is not None

    with pytest.raises(ResumeError, match="trainer.iters: 10 -> 11"):  # other settings: refused, files kept
        run(tiny_cfg(*SHORT, "trainer.iters=11"), str(run_dir))
    assert snapshot(run_dir) == before

    written_at = (run_dir / checkpoint.CHECKPOINT).stat().st_mtime_ns
    restarted = run(tiny_cfg(*SHORT, "resume=false"), str(run_dir))  # starts over: trains again, to the same numbers
    assert restarted == first
    assert (run_dir / checkpoint.CHECKPOINT).stat().st_mtime_ns > written_at
    assert record.load(run_dir)["status"] == "completed"
