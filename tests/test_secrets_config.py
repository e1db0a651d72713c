"""A password written out in a config file (not on the command line) is refused before Hydra writes anything."""

import subprocess

import pytest

from tests.helpers import TINY, cli

SECRET = "hunter2-in-a-file"


def _grep(root):
    out = subprocess.run(["grep", "-rl", SECRET, str(root)], capture_output=True, text=True)
    return sorted(out.stdout.split())


@pytest.mark.parametrize("multirun", [False, True])
def test_a_literal_password_in_a_config_file_is_refused_before_anything_is_written(tmp_path, multirun):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text(
        f"defaults:\n  - config\n  - _self_\npaths:\n  data_dir: s3://alice:{SECRET}@bucket/data\n"
    )
    args = [f"--config-dir={extra}", "--config-name=mine", *TINY, "hydra.run.dir=run", "hydra.sweep.dir=sweep"]
    if multirun:
        args += ["hydra/sweeper=optuna", "trainer.lr=interval(1e-4,1e-3)", "hydra.sweeper.n_trials=1"]
    out = cli(*args, cwd=tmp_path, multirun=multirun)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "the config key paths.data_dir holds a literal password" in lines[0], out.stderr
    assert "${oc.env:" in lines[0]  # points to the environment-variable form
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()
    assert _grep(tmp_path) == [str(extra / "mine.yaml")]  # nowhere but the user's own file
    assert SECRET not in out.stdout + out.stderr


def test_the_environment_variable_form_in_a_config_file_runs_and_leaks_nothing(tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text("defaults:\n  - config\n  - _self_\nlogger:\n  notes: ${oc.env:NOTES_URL}\n")
    env = {"NOTES_URL": f"postgresql://alice:{SECRET}@db.example/studies"}
    short = ["trainer.max_tasks=1", "trainer.iters=10"]  # a complete run is all it takes
    args = [f"--config-dir={extra}", "--config-name=mine", *TINY, *short, "hydra.run.dir=run"]
    out = cli(*args, cwd=tmp_path, env_extra=env)  # launch.py's command line, in this process
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "run" / "results.json").exists()
    assert _grep(tmp_path) == []  # resolved only in memory; the record's config has it masked
    assert "alice:***@db.example" in (tmp_path / "run" / "results.json").read_text()
