"""The command line as users run it: clear errors, CIFAR end to end (conv pre-training included) on tiny files."""

import json

import pytest

from birsweep.tracking import record
from tests.fakedata import write_cifar10, write_cifar100
from tests.helpers import cli, launch


def test_cifar100_missing_offline_fails_with_one_clear_line(tmp_path):
    # a dead proxy makes the real torchvision download fail at once, without touching the network
    dead = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    out = cli("data=cifar100", f"paths.data_dir={tmp_path / 'nodata'}", "logger=none", cwd=tmp_path, env_extra=dead)
    assert out.returncode == 2
    err = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1, out.stderr
    assert "CIFAR-100 not found at" in err[0] and "cifar-100-python" in err[0] and "data.root" in err[0]
    assert "Traceback" not in out.stderr


def test_bad_value_on_the_command_line(tmp_path):
    out = cli("model.dg_prop=2", "logger=none", cwd=tmp_path)
    assert out.returncode == 2 and "error: model.dg_prop=2.0 is out of range [0.0, 1.0)" in out.stderr


@pytest.mark.slow  # four runs with conv pre-training: over 10 s (make test-all)
def test_tiny_cifar100_end_to_end_with_conv_pretraining(tmp_path):
    data = tmp_path / "data"
    write_cifar10(str(data), per_class_train=30, per_class_test=5)
    write_cifar100(str(data), per_class_train=12, per_class_test=3)
    common = [
        f"paths.data_dir={data}",
        "logger=none",
        "trainer.progress=false",
        "data.n_tasks=5",
        "trainer.iters=4",
        "trainer.batch_size=32",
        "model.encoder.pretrain.epochs=2",
        *["model.fc_units=64", "model.h_dim=64", "model.z_dim=16", "eval_gen.samples=10"],  # not CIFAR's 2000-unit
    ]
    first = launch(*common, f"hydra.run.dir={tmp_path / 'run1'}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "final average accuracy" in first.stdout
    weights = list((tmp_path / "cache" / "encoders").glob("C3-5x16-bn-*.pt"))
    assert len(weights) == 1, "the pre-trained encoder is cached"
    summary = json.loads(weights[0].with_suffix(".json").read_text())
    assert summary["steps"] == 2 * (300 // 256) and summary["recipe"]["dataset"] == "cifar10"
    features = list((tmp_path / "cache" / "features").glob("cifar100-*.pt"))
    assert len(features) == 1
    rec = record.load(tmp_path / "run1")
    assert rec["status"] == "completed" and len(rec["acc_matrix"]) == 5 and rec["tasks_done"] == 5
    assert rec["losses"][-1]["recon_r"] > 0  # internal replay of 1024-d features ran
    # a second run reuses encoder and features (no new files) and gives the same numbers
    mtime = weights[0].stat().st_mtime
    # the other runs: the same command line in this process (the first was the real process)
    second = cli(*common, f"hydra.run.dir={tmp_path / 'run2'}", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert weights[0].stat().st_mtime == mtime
    rec2 = record.load(tmp_path / "run2")
    assert rec2["acc_matrix"] == rec["acc_matrix"] and rec2["losses"] == rec["losses"]
    # the augmentation-matched baseline encodes augmented current images per batch
    aug = cli(*common, "data.augment=true", f"hydra.run.dir={tmp_path / 'run3'}", cwd=tmp_path)
    assert aug.returncode == 0, aug.stderr
    assert record.load(tmp_path / "run3")["losses"] != rec["losses"]
    # contrastive with kornia views of the RGB images through the frozen encoder, on augmented data
    con = cli(*common, "data.augment=true", "variant=contrastive", f"hydra.run.dir={tmp_path / 'run4'}", cwd=tmp_path)
    assert con.returncode == 0, con.stderr
    later = [r for r in record.load(tmp_path / "run4")["losses"] if r["task"] > 1]
    assert later and all(r["contrastive"] > 0 and r["contrastive_n"] == 4 * 32 for r in later)


def test_info_lists_the_sweeper_once(tmp_path):
    out = cli("--info", "plugins", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    sweepers = out.stdout.split("Sweeper:")[1].split("Profiling")[0].split()
    assert sweepers.count("OptunaSweeper") == 1 and "BasicSweeper" in sweepers


def test_a_sweeper_setting_out_of_range_is_one_line_with_exit_code_2(tmp_path):
    out = cli(
        "hydra/sweeper=optuna",
        "hydra.sweeper.max_failure_rate=2",
        "trainer.lr=interval(0.1, 0.2)",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "logger=none",
        cwd=tmp_path,
        multirun=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert [line for line in out.stderr.splitlines() if line.startswith("error:")] == [
        "error: hydra.sweeper.max_failure_rate=2.0 is out of range [0, 1]"
    ]
