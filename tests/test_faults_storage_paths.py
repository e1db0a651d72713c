"""Issue 19, items 2 and 7: a path is data in a storage URL (any character a filesystem allows names a sweep dir),
and a storage URL's password never reaches an error, whichever piece of it a driver quotes (docs/faults.md)."""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy.engine import make_url

from birsweep.secrets import mask_url_password_in
from birsweep.sweep.search.storage import DEFAULT_FILE, default_storage, open_storage, parse, sqlite_file
from tests.helpers import run_sweep

SHORT = ("trainer.max_tasks=2", "trainer.iters=10")
ODD_NAMES = ["q?x", "h#x", "pct%20x", "sp ace", "caf\u00e9-\u6570", "a?b#c%41 d\u00e9"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_sweep_dir_name_is_data_in_its_sqlite_url(tmp_path, name):
    sweep_dir = tmp_path / name
    url = default_storage(str(sweep_dir))
    expected = os.path.join(str(sweep_dir), DEFAULT_FILE)
    assert make_url(url).database == expected  # what SQLAlchemy (so Optuna) opens
    assert sqlite_file(url) == expected
    open_storage(url)  # creates the file, and its folder, where the path says
    assert sorted(os.listdir(tmp_path)) == [name] and (sweep_dir / DEFAULT_FILE).is_file()
    assert parse(str(sweep_dir)).location == url  # a sweep dir given as the storage: the same file


@pytest.mark.slow  # three sweeps, ~40 s on one core
def test_a_sweep_into_an_odd_dir_keeps_its_study_there(tmp_path):
    """The operator's commands: a 1-trial sweep into a dir named with ``?``, ``#``, ``%20``, a space and
    non-ASCII; again (resumes: nothing to run); the dir deleted, again (starts fresh)."""
    sweep_dir = tmp_path / "x" / "q?x #y%20z \u00e9"
    args = (
        "hparams_search=repulsion",
        *SHORT,
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.study_name=uni",
        f"hydra.sweep.dir='{sweep_dir}'",
    )
    first = run_sweep(tmp_path, *args, in_process=True)
    assert first.returncode == 0, first.stderr
    assert (sweep_dir / DEFAULT_FILE).is_file()
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [sweep_dir.name]  # nothing at x/q
    again = run_sweep(tmp_path, *args, in_process=True)
    assert again.returncode == 0 and "nothing to run" in again.stdout + again.stderr
    shutil.rmtree(sweep_dir)
    fresh = run_sweep(tmp_path, *args, in_process=True)
    assert fresh.returncode == 0 and "nothing to run" not in fresh.stdout + fresh.stderr
    assert (sweep_dir / DEFAULT_FILE).is_file()


PASSWORD = "Pw1x@Qz2y"  # an unencoded "@": SQLAlchemy reads password "Pw1x", host "Qz2y@localhost"
LEAKY_URL = f"postgresql://user:{PASSWORD}@localhost:1/db"
PIECES = [PASSWORD, *PASSWORD.split("@")]


def test_every_piece_of_a_password_is_masked_in_a_driver_error():
    message = "(psycopg.OperationalError) failed to resolve host 'Qz2y@localhost' for user:Pw1x"
    masked = mask_url_password_in(message, LEAKY_URL)
    assert not any(piece in masked for piece in PIECES), masked
    assert "failed to resolve host '***@localhost'" in masked


def test_a_password_from_a_resolver_never_reaches_an_error_or_a_file(tmp_path):
    out = run_sweep(
        tmp_path,
        "hparams_search=repulsion",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.storage='${oc.env:STUDY_DB}'",
        env_extra={"STUDY_DB": LEAKY_URL},
        in_process=True,
    )
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "cannot open storage" in lines[0] and "%40" in lines[0], out.stderr
    assert not any(piece in out.stdout + out.stderr for piece in PIECES), out.stderr
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        assert not any(piece in text for piece in PIECES), path
