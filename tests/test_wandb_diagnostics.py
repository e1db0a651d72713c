"""The diagnostics in the offline W&B run: per-task scalars and the confusion matrix as a table and a heatmap."""

from __future__ import annotations

import json
import os

import pytest
import torch
from PIL import Image

from analysis.wandb_offline import find_runs, read_run
from birsweep.loggers.wandb_diagnostics import diagnostics_scalars
from birsweep.loggers.wandb_logger import WandbLogger
from birsweep.tracking import record as run_record
from birsweep.train.loop.run import train
from tests.helpers import SMALL_WANDB, make_cfg


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-default"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE")  # conftest disables W&B; here logger.mode decides
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_scalars_of_an_entry():
    entry = {
        "pairs": [{"rate": 0.4, "skl": 2.0, "distance": 1.0}, {"rate": 0.2, "skl": 4.0, "distance": 3.0}],
        "replay_acc_old": 0.5,
        "participation": {"repulsion": 0, "recon_atr": 64},
    }
    assert diagnostics_scalars(entry) == {
        "diag/top_pair_rate": 0.4,
        "diag/pair_rate": pytest.approx(0.3),
        "diag/pair_skl": 3.0,
        "diag/pair_distance": 2.0,
        "diag/replay_acc": 0.5,
        "diag/participation/repulsion": 0.0,
        "diag/participation/recon_atr": 64.0,
    }
    first_task = {"pairs": [], "replay_acc_old": None, "participation": {"repulsion": 0}}
    assert diagnostics_scalars(first_task) == {"diag/participation/repulsion": 0.0}


def _trained(tmp_path, *overrides):
    """A small run's record and its offline W&B run, read back."""
    cfg = make_cfg(SMALL_WANDB + list(overrides))
    job = tmp_path / "job"
    train(cfg, str(job), [WandbLogger(cfg)])
    (path,) = find_runs(str(job))
    return run_record.load(job), read_run(path, wait=60)


def test_offline_run_has_the_diagnostics_of_every_task(tmp_path):
    rec, wb = _trained(tmp_path, "variant=recon")
    rows = [row for row in wb["history"] if "diag/participation/recon_atr" in row]
    assert [row["task"] for row in rows] == [1, 2, 3]
    for row, entry in zip(rows, rec["diagnostics"]):
        for key, value in diagnostics_scalars(entry).items():
            assert row[key] == pytest.approx(value), key
        assert row["diag/participation/recon_atr"] == rec["participation"]["recon_atr"][row["task"] - 1]
    last = rows[-1]
    assert last["diag/replay_acc"] == pytest.approx(rec["diagnostics"][-1]["replay_acc_old"])
    files = os.path.join(os.path.dirname(wb["path"]), "files")
    with open(os.path.join(files, last["diag/confusion/path"])) as f:
        table = json.load(f)
    labels = [str(c) for c in rec["diagnostics"][-1]["classes"]]
    assert table["columns"] == ["true \\ predicted", *labels]
    assert [r[1:] for r in table["data"]] == rec["diagnostics"][-1]["confusion"]
    heatmap = Image.open(os.path.join(files, last["diag/confusion_heatmap/path"]))
    assert heatmap.size[0] > 150 and heatmap.size[1] > 150
    assert wb["summary"]["inert_terms"] == rec["inert_terms"]
    assert wb["summary"]["participation_recon_atr"] == sum(rec["participation"]["recon_atr"])


def test_log_confusion_false_sends_the_scalars_without_the_table_and_heatmap(tmp_path):
    rec, wb = _trained(tmp_path, "logger.log_confusion=false", "eval_gen.enabled=false")
    rows = [row for row in wb["history"] if "diag/replay_acc" in row]
    assert [row["task"] for row in rows] == [2, 3] and len(rec["diagnostics"][-1]["confusion"]) == 6  # record: kept
    assert not [key for row in wb["history"] for key in row if key.startswith("diag/confusion")]
    media = os.path.join(os.path.dirname(wb["path"]), "files", "media")
    assert not os.path.exists(media) or not [f for _, _, fs in os.walk(media) for f in fs if "confusion" in f]
