"""A sweep on PostgreSQL, the storage for studies spread over many machines. Runs when BIRSWEEP_TEST_POSTGRES_URL
names a database the test may write to (e.g. postgresql://user:password@127.0.0.1:5432/birsweep_test). Slow: two joblib
worker processes start torch while the sweep runs (about 20 s on 2 cores); `.ci/run` starts the server for it."""

import os
import uuid

import pytest

from birsweep.sweep.search.storage import open_storage
from tests.helpers import assert_records_agree, load_study, run_sweep, states

URL = os.environ.get("BIRSWEEP_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not URL, reason="set BIRSWEEP_TEST_POSTGRES_URL to run the PostgreSQL test"),
]


def test_a_joblib_sweep_on_postgresql_keeps_the_password_out_of_files(tmp_path):
    pytest.importorskip("psycopg")  # psycopg 3: the postgres extra; SQLAlchemy 2.1 uses it for postgresql://
    name = f"pg-{uuid.uuid4().hex[:8]}"
    # the URL reaches the sweeper and the jobs through an environment variable, never through a file; two trials
    # of 3 short tasks, run at once by two joblib workers
    out = run_sweep(
        tmp_path,
        "hydra/launcher=joblib",
        "data.n_tasks=3",
        "data.synthetic.n_classes=6",
        "trainer.iters=10",
        "trainer.lr=tag(log, interval(1e-4, 1e-2))",
        "hydra.sweeper.storage=${oc.env:STUDY_DB}",
        f"hydra.sweeper.study_name={name}",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        env_extra={"STUDY_DB": URL},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    study = load_study(URL, name)
    assert states(study) == {"COMPLETE": 2}
    assert all(len(t.intermediate_values) == 3 for t in study.trials)  # reported by the joblib workers
    assert_records_agree(study, tmp_path / "sweep")
    from sqlalchemy.engine import make_url

    password = make_url(URL).password
    if password:
        for path in (tmp_path / "sweep").rglob("*"):
            if path.is_file() and path.suffix in (".yaml", ".json", ".csv", ".log", ".txt"):
                assert password not in path.read_text(errors="ignore"), path
        assert password not in out.stdout + out.stderr
    storage = open_storage(URL)
    storage.delete_study(storage.get_study_id_from_name(name))
