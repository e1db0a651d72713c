"""A run under faults: a bad checkpoint, a stop signal, a full disk, a bad setting or dir, a misspelt key. The
record never lies and is never lost; nothing half-written stays behind (docs/faults.md)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from birsweep.config_check import check_config
from birsweep.errors import ConfigError, ResumeError, RunInterrupted, StorageError
from birsweep.tracking import record
from birsweep.train.loop import checkpoint
from birsweep.train.loop.callbacks import RunCallback
from birsweep.train.loop.run import train
from tests.gate import gate, wait_until_reached
from tests.helpers import SWEEP, TINY, cli, make_cfg, start

NUMBERS = ("acc_matrix", "avg_acc", "final_avg_acc", "forgetting", "bwt", "losses")


def error_lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in out.stderr, out.stderr
    return [line for line in out.stderr.splitlines() if line.startswith("error:")]


def record_files(run_dir: Path) -> tuple[bytes, bytes]:
    return (run_dir / record.RESULTS).read_bytes(), (run_dir / record.METRICS).read_bytes()


# --- 1 + 2: a re-run keeps the record until the checkpoint is known good -----------------------------------------
def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_flip_middle, _truncate], ids=["flipped", "truncated"])
def test_a_damaged_checkpoint_is_refused_and_the_record_kept(completed, tmp_path, damage):
    run_dir = tmp_path / "run"
    shutil.copytree(completed, run_dir)
    before = record_files(run_dir)
    ckpt = run_dir / checkpoint.CHECKPOINT
    damage(ckpt)
    out = cli(*TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert out.returncode == 2
    lines = error_lines(out)
    assert len(lines) == 1 and str(ckpt) in lines[0] and "resume=false" in lines[0] and "delete" in lines[0]
    assert record_files(run_dir) == before
    assert record.load(run_dir)["status"] == "completed"


def test_a_settings_mismatch_keeps_the_record(completed, tmp_path, tiny_cfg):
    run_dir = tmp_path / "run"
    shutil.copytree(completed, run_dir)
    before = record_files(run_dir)
    with pytest.raises(ResumeError, match="trainer.iters: 30 -> 31"):
        train(tiny_cfg("trainer.iters=31"), str(run_dir))
    assert record_files(run_dir) == before


def test_a_completed_run_with_a_good_checkpoint_is_left_as_it_is(completed, tmp_path, tiny_cfg):
    """Issue 19, item 8 (more in tests/test_faults_rerun.py): the same settings again change nothing."""
    run_dir = tmp_path / "run"
    shutil.copytree(completed, run_dir)
    assert train(tiny_cfg(), str(run_dir)) == record.load(completed)["objective"]
    assert record_files(run_dir) == record_files(completed)


def test_the_digest_is_checked_before_unpickling(tmp_path):
    checkpoint.save(str(tmp_path), {"config": {"a": 1}, "tasks_done": 1})
    assert checkpoint.load(str(tmp_path), {"a": 1})["tasks_done"] == 1
    path = tmp_path / checkpoint.CHECKPOINT
    _flip_middle(path)
    with pytest.raises(ResumeError, match="does not match its sha256 digest"):
        checkpoint.load(str(tmp_path), {"a": 1})
    path.write_bytes(b"PK\x03\x04 not ours")  # e.g. a plain torch.save file
    with pytest.raises(ResumeError, match="has no digest line"):
        checkpoint.load(str(tmp_path), {"a": 1})


# --- 3: stop signals and a full disk --------------------------------------------------------------------------------
class SignalAt(RunCallback):
    """Sends ``signum`` to this process in task ``task``: at its end (after its checkpoint), or with ``mid`` at its
    first loss log (mid-task, after the previous task's checkpoint)."""

    def __init__(self, task: int, signum: int, mid: bool = False):
        self.task, self.signum, self.mid = task, signum, mid

    def _fire(self, task: int) -> None:
        if task == self.task:
            os.kill(os.getpid(), self.signum)
            time.sleep(5)  # the handler raises at the next bytecode; never reached

    def on_task_end(self, end):
        if not self.mid:
            self._fire(end.task)

    def on_losses(self, step, task, values):
        if self.mid:
            self._fire(task)


def test_sigterm_mid_task_then_the_same_command_gives_the_uninterrupted_record(completed, tmp_path):
    """In this process (the real-process version is slow: test_sigterm_mid_task_then_rerun_...): SIGTERM in task 2,
    then launch.py's command line finishes the run as if never cut, equal to the module's completed run."""
    cut = tmp_path / "cut"
    with pytest.raises(RunInterrupted):
        train(make_cfg(TINY), str(cut), callbacks=[SignalAt(2, signal.SIGTERM, mid=True)])
    rec = record.load(cut)
    assert rec["status"] == "interrupted" and rec["error"] == "interrupted by SIGTERM" and rec["tasks_done"] == 1
    again = cli(*TINY, f"hydra.run.dir={cut}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    a, b = record.load(completed), record.load(cut)
    assert b["status"] == "completed" and b["resumed_from_task"] == 1 and all(a[k] == b[k] for k in NUMBERS)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR2])
def test_a_stop_signal_records_the_run_as_interrupted(tiny_cfg, tmp_path, signum):
    before = signal.getsignal(signum)
    with pytest.raises(RunInterrupted) as stop:
        train(tiny_cfg(), str(tmp_path), callbacks=[SignalAt(2, signum)])
    assert stop.value.signum == signum
    rec = record.load(tmp_path)
    name = signal.Signals(signum).name
    assert rec["status"] == "interrupted" and rec["error"] == f"interrupted by {name}" and rec["tasks_done"] == 2
    assert checkpoint.load(str(tmp_path), rec["config"])["tasks_done"] == 2
    assert signal.getsignal(signum) is before  # the run's handler is gone with the run


def test_sigint_records_the_run_as_interrupted(tiny_cfg, tmp_path):
    # Ctrl-C as a terminal delivers it: a shell that starts pytest in the background sets SIGINT to "ignore"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(tiny_cfg(), str(tmp_path), callbacks=[SignalAt(1, signal.SIGINT)])
    finally:
        signal.signal(signal.SIGINT, previous)
    rec = record.load(tmp_path)
    assert rec["status"] == "interrupted" and rec["error"] == "interrupted by SIGINT"


@pytest.mark.slow
def test_sigterm_mid_task_then_rerun_gives_the_uninterrupted_record(completed, tmp_path):
    """SIGTERM a real `launch.py` in task 2 (after task 1's checkpoint; tests/gate.py holds it there), as `timeout`
    or SLURM would; the same command again (its command line, in this process) finishes the run as if never cut:
    the module's completed run is the uninterrupted reference. Slow: the new process spends most of its 10-20 s
    starting Python with PyTorch beside both busy workers; the fast tier keeps a real SIGTERM
    (tests/test_signal_writes.py), a real SIGKILL and resume (tests/test_train.py) and this check in-process."""
    cut, gates = tmp_path / "cut", tmp_path / "gates"
    gates.mkdir()
    proc = start(*TINY, *gate(gates, task=2, at="mid"), f"hydra.run.dir={cut}", cwd=tmp_path)
    try:
        wait_until_reached(gates, "cut", lambda: proc.poll() is None, (tmp_path / "launch.out").read_text)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "launch.out").read_text()
    assert "error: run interrupted by SIGTERM" in output and "Traceback" not in output
    rec = record.load(cut)
    assert rec["status"] == "interrupted" and "SIGTERM" in rec["error"] and rec["tasks_done"] == 1
    assert checkpoint.load(str(cut), rec["config"])["tasks_done"] == 1
    again = cli(*TINY, f"hydra.run.dir={cut}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    a, b = record.load(completed), record.load(cut)
    assert b["status"] == "completed" and b["resumed_from_task"] == 1 and all(a[k] == b[k] for k in NUMBERS)


def test_a_full_disk_fails_the_run_with_its_reason(tiny_cfg, tmp_path, monkeypatch):
    def no_space(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(checkpoint, "atomic_write", no_space)
    with pytest.raises(StorageError, match="cannot write the checkpoint .*No space left on device"):
        train(tiny_cfg(), str(tmp_path))
    rec = record.load(tmp_path)
    assert rec["status"] == "failed" and "No space left on device" in rec["error"] and rec["tasks_done"] == 1


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs here: {done.stderr.strip() or done.returncode}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_real_full_disk_fails_the_run_with_one_line(small_tmpfs, tmp_path):
    run_dir = small_tmpfs / "run"
    # a checkpoint of this model (weights, Adam, SI) is several MB: the first one cannot be written
    out = cli(*TINY, "model.fc_units=400", "model.h_dim=400", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert out.returncode == 2
    lines = error_lines(out)
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(run_dir) in lines[0]
    rec = record.load(run_dir)
    assert rec["status"] == "failed" and "No space left on device" in rec["error"]
    assert not [p for p in os.listdir(run_dir) if p.endswith(".tmp")]


# --- 4: leftovers of cut-short writes -------------------------------------------------------------------------------
def test_stale_temporary_files_are_removed_at_start(tiny_cfg, tmp_path):
    ours = [".checkpoint.pt.k3j_x9a2.tmp", ".results.json.abcdefgh.tmp", ".metrics.csv.a1b2c3d4.tmp"]
    theirs = [".notes.abcdefgh.tmp", "checkpoint.pt.tmp", ".checkpoint.pt.abcdefgh.bak"]
    past = time.time() - 60
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x" * 100)
        os.utime(tmp_path / name, (past, past))
    train(tiny_cfg("data.n_tasks=1", "data.synthetic.n_classes=2"), str(tmp_path))
    left = set(os.listdir(tmp_path))
    assert not left & set(ours) and set(theirs) <= left


# --- 5: bad input writes nothing ------------------------------------------------------------------------------------
def test_a_bad_setting_writes_no_record(tmp_path):
    run_dir = tmp_path / "run"
    out = cli(*TINY, "data.n_tasks=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert out.returncode == 2
    lines = error_lines(out)
    assert len(lines) == 1 and "data.n_tasks=3" in lines[0]
    assert not (run_dir / record.RESULTS).exists() and not (run_dir / record.METRICS).exists()


@pytest.mark.parametrize("multirun", [False, True], ids=["run", "sweep"])
def test_an_output_dir_that_cannot_be_made_gives_one_line(tmp_path, multirun):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a dir")
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    extra = [*SWEEP, "hydra.sweeper.n_trials=1"] if multirun else []
    out = cli(*TINY, *extra, f"{key}={blocker / 'sub'}", cwd=tmp_path, multirun=multirun)
    assert out.returncode == 2
    lines = error_lines(out)
    assert len(lines) == 1 and str(blocker) in lines[0] and key in lines[0]


# --- 6: a key the schema does not know ------------------------------------------------------------------------------
def test_an_added_misspelt_key_is_refused_with_the_nearest_key(tmp_path):
    run_dir = tmp_path / "run"
    out = cli(*TINY, "+trainer.lrr=0.1", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert out.returncode == 2
    assert error_lines(out) == [
        "error: trainer.lrr is not a config key: did you mean trainer.lr? check its spelling (`--cfg job` lists "
        "the keys)"
    ]
    assert not (run_dir / record.RESULTS).exists()


def test_known_keys_pass_and_unknown_ones_anywhere_are_named():
    check_config(make_cfg([*TINY, "+optuna=trial", "optuna.study_name=s", "optuna.storage=x.log"]))
    check_config(make_cfg([*TINY, "variant=repulsion"]))
    for key in ("+foo=1", "+data.synthetic.shapee=[1,8,8]", "+variant.repulsion.bogus=1"):
        with pytest.raises(ConfigError, match=f"^{key[1:].split('=')[0]} is not a config key"):
            check_config(make_cfg([*TINY, key]))
