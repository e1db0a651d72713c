"""Hydra's own errors about the command line are one line naming the key, exit code 2, nothing written (issue 19,
item 5; birsweep/hydra_errors.py, README "Faults"). The lines are checked in-process on the errors Hydra raises;
launch.py's command line checks what an operator sees, single run and ``-m`` (one of them a real process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from birsweep.hydra_errors import hydra_error_line
from tests.helpers import CONF, TINY, cli, launch

# override -> the line launch.py prints after "error: "
LINES = {
    "variant=foo": "variant=foo: no such option in config group 'variant'; choose one of baseline, contrastive, "
    "recon, repulsion",
    "variant=repulsio": "variant=repulsio: no such option in config group 'variant'; did you mean "
    "variant=repulsion? choose one of baseline, contrastive, recon, repulsion",
    "hydra/launcher=jobib": "hydra/launcher=jobib: no such option in config group 'hydra/launcher'; did you mean "
    "hydra/launcher=joblib? choose one of basic, joblib, slurm, slurm_cpu, submitit_local, submitit_slurm",
    "trainer.lrr=0.1": "trainer.lrr is not a config key: did you mean trainer.lr? check its spelling (`--cfg job` "
    "lists the keys)",
    "variant.repulsion.lamda_re=1": "variant.repulsion.lamda_re is not a config key: did you mean "
    "variant.repulsion.lamda_rep? check its spelling (`--cfg job` lists the keys)",
    "trainer.iters=abc": "trainer.iters=abc: Value 'abc' of type 'str' could not be converted to Integer; give an "
    "integer (now trainer.iters=30)",
    "trainer.lr=fast": "trainer.lr=fast: Value 'fast' of type 'str' could not be converted to Float; give a number "
    "(now trainer.lr=0.001)",
    "trainer.iters=null": "trainer.iters=null: the key cannot be null (now trainer.iters=30)",
    "trainer.progress=maybe": "trainer.progress=maybe: Value 'maybe' is not a valid bool (type str) "
    "(now trainer.progress=false)",
}


@pytest.mark.parametrize("override", list(LINES))
def test_each_hydra_error_is_one_line_naming_the_key(override):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        with pytest.raises(Exception) as err:
            compose("config", overrides=[*TINY, override], return_hydra_config=True)
    assert hydra_error_line(err.value) == LINES[override]


def test_a_parse_error_and_other_errors():
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        with pytest.raises(Exception) as err:
            compose("config", overrides=["trainer.iters=[1"])
    line = hydra_error_line(err.value)
    assert line is not None and line.startswith("cannot parse an override: ") and "\n" not in line
    assert hydra_error_line(ValueError("a bug")) is None  # anything else keeps its traceback


@pytest.mark.parametrize(
    "override, multirun, process",
    [("variant=repulsio", False, False), ("trainer.lrr=0.1", True, True), ("trainer.iters=abc", False, False)],
    ids=["variant=repulsio", "-m trainer.lrr=0.1 (a real process)", "trainer.iters=abc"],
)
def test_launch_prints_one_line_exits_2_and_writes_nothing(tmp_path: Path, override: str, multirun: bool, process):
    """One real ``launch.py`` process (all an operator sees on stderr); the others its command line in-process."""
    run = launch if process else cli
    out = run(*TINY, override, cwd=tmp_path, multirun=multirun)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2, out.stderr
    assert lines == [f"error: {LINES[override]}"], out.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


# a value a ``-m`` sweep lists -> the line, before the sweep writes multirun.yaml or runs its first job
SWEEP_LINES = {
    "trainer.iters=1,abc": LINES["trainer.iters=abc"],
    "variant=repulsion,recn": "variant=recn: no such option in config group 'variant'; did you mean variant=recon? "
    "choose one of baseline, contrastive, recon, repulsion",
    "trainer.lr=0.1,-1": "trainer.lr=-1.0 is out of range (0.0, inf)",
    "+foo=1,2": "foo is not a config key: check its spelling (`--cfg job` lists the keys)",
}


@pytest.mark.parametrize("sweeper", [[], ["hparams_search=repulsion"]], ids=["basic sweeper", "optuna sweeper"])
@pytest.mark.parametrize("override", list(SWEEP_LINES))
def test_a_bad_value_in_a_sweep_is_one_line_before_anything_is_written(tmp_path: Path, override: str, sweeper):
    out = cli(*TINY, *sweeper, override, cwd=tmp_path, multirun=True)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2, out.stderr
    assert lines == [f"error: {SWEEP_LINES[override]}"], out.stderr
    assert not (tmp_path / "multirun").exists()


def test_every_value_of_a_good_sweep_runs(tmp_path: Path):
    """The check lets a grid of a group and a range through: both jobs run, each with its values."""
    out = cli(
        *TINY,
        "trainer.iters=1",
        "data.n_tasks=2",
        "variant=baseline,repulsion",
        "seed=range(3,4)",
        "hydra.sweep.dir=sw",
        cwd=tmp_path,
        multirun=True,
    )
    assert out.returncode == 0, out.stderr
    records = sorted((tmp_path / "sw").glob("*/results.json"))
    assert len(records) == 2
    import json

    runs = {
        (r["config"]["variant"]["name"], r["config"]["seed"]) for r in map(json.loads, map(Path.read_text, records))
    }
    assert runs == {("baseline", 3), ("repulsion", 3)}
