"""The generator evaluation in a run: what the record carries per method, that it leaves the training numbers alone,
the CIFAR path with its cached evaluation classifier (on tiny CIFAR-100 files in the real format), bad values, and a
run killed during the evaluation."""

from __future__ import annotations

import json
import math
import os
import signal
import time

import pytest

from birsweep.tracking import record
from birsweep.train.loop.run import train
from tests.fakedata import write_cifar100
from tests.helpers import TINY, cli, make_cfg, start

SHORT = [*TINY, "trainer.iters=12", "trainer.log_every=6"]


def test_evaluation_on_or_off_leaves_the_training_numbers_alone(tmp_path):
    for mode in ("true", "false"):
        train(make_cfg([*SHORT, f"eval_gen.enabled={mode}"]), str(tmp_path / mode))
    on, off = record.load(tmp_path / "true"), record.load(tmp_path / "false")
    assert on["acc_matrix"] == off["acc_matrix"] and on["losses"] == off["losses"]
    assert off["generator_eval"] == {"skipped": "eval_gen.enabled=false"}
    figures = on["generator_eval"]
    assert on["status"] == "completed" and figures["n_test"] == 5 * 2 * 20 and figures["samples"] == 100
    assert math.isfinite(figures["ll"]) and figures["ll_sd"] > 0
    assert 0 < figures["recon_error"] < 1 and figures["recon_error_sd"] > 0  # BCE per pixel of a trained model
    assert "conv" in figures["image_metrics_skipped"]


def test_gr_separate_generator_on_a_subset_of_test_samples(tmp_path):
    train(
        make_cfg([*SHORT, "method=gr", "eval_gen.n_test=30", "eval_gen.samples=7", "eval_gen.rows_per_pass=50"]),
        str(tmp_path),
    )
    figures = record.load(tmp_path)["generator_eval"]
    assert figures["n_test"] == 30 and figures["samples"] == 7
    assert math.isfinite(figures["ll"]) and figures["recon_error"] > 0


def test_a_failing_evaluation_is_reported_and_the_run_completes(tmp_path, monkeypatch):
    from birsweep.train import generator_eval

    def broken(*args, **kwargs):
        raise MemoryError("no room for the importance samples")

    monkeypatch.setattr(generator_eval, "evaluate", broken)
    train(make_cfg([*SHORT, "trainer.iters=3"]), str(tmp_path))
    rec = record.load(tmp_path)
    assert rec["status"] == "completed" and len(rec["acc_matrix"]) == 5
    assert rec["generator_eval"] == {
        "skipped": "the evaluation failed: MemoryError: no room for the importance samples"
    }


def test_a_method_without_a_generator_says_so(tmp_path):
    train(make_cfg([*SHORT, "method=none"]), str(tmp_path))
    assert record.load(tmp_path)["generator_eval"] == {"skipped": "method none has no generator"}


@pytest.mark.parametrize(
    "override, message",
    [
        ("eval_gen.classifier_metrics=maybe", "eval_gen.classifier_metrics='maybe' is not one of auto, true, false"),
        ("eval_gen.samples=0", "eval_gen.samples=0 is out of range"),
    ],
)
def test_bad_values_stop_with_one_line(override, message, tmp_path):
    out = cli(*TINY, override, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "run" / "results.json").exists()


def _cifar(tmp_path, *extra):
    data = tmp_path / "data"
    if not data.exists():
        write_cifar100(str(data), per_class_train=6, per_class_test=2)
    overrides = [
        "data=cifar100",
        f"paths.data_dir={data}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "logger=none",
        "model.encoder.weights=random",
        "data.n_tasks=2",
        "trainer.iters=3",
        "trainer.batch_size=16",
        "trainer.progress=false",
        "model.fc_units=32",
        "model.h_dim=32",
        "model.z_dim=8",
        "eval_gen.samples=10",
        "eval_gen.classifier.fc_units=32",
        "eval_gen.classifier.batch_size=64",
        "eval_gen.classifier.max_iters=3",
        *extra,
    ]
    return make_cfg(overrides)


@pytest.mark.slow
def test_cifar_path_figures_and_the_cached_evaluation_classifier(tmp_path):
    train(_cifar(tmp_path, "eval_gen.classifier_metrics=auto"), str(tmp_path / "auto"))
    skipped = record.load(tmp_path / "auto")["generator_eval"]
    assert "not cached" in skipped["image_metrics_skipped"] and math.isfinite(skipped["ll"])
    assert not os.path.exists(skipped["classifier"])

    train(_cifar(tmp_path, "eval_gen.classifier_metrics=true"), str(tmp_path / "first"))
    first = record.load(tmp_path / "first")["generator_eval"]
    assert first["classifier_trained"] is True and first["classifier"] == skipped["classifier"]
    assert first["n_test"] == 200 and first["n_generated"] == 200  # both tasks' test samples, as many generated
    assert 1.0 <= first["is"] <= 100 and math.isfinite(first["fid"]) and first["fid"] > 0
    assert len(first["precision"]) == len(first["recall"]) == 1001
    assert all(0 <= v <= 1 for v in first["precision"] + first["recall"])  # an untrained generator: near 0
    summary = json.loads(open(os.path.splitext(first["classifier"])[0] + ".json").read())
    assert summary["steps"] == 3 and summary["recipe"]["epochs"] == 20
    mtime = os.stat(first["classifier"]).st_mtime

    # a second run (auto) reuses the cached classifier and gets the same figures
    train(_cifar(tmp_path, "eval_gen.classifier_metrics=auto"), str(tmp_path / "second"))
    second = record.load(tmp_path / "second")["generator_eval"]
    assert second["classifier_trained"] is False and os.stat(first["classifier"]).st_mtime == mtime
    assert {k: second[k] for k in ("is", "fid", "precision", "ll")} == {
        k: first[k] for k in ("is", "fid", "precision", "ll")
    }

    # a changed recipe trains (and caches) another classifier
    train(_cifar(tmp_path, "eval_gen.classifier_metrics=true", "eval_gen.classifier.lr=1e-3"), str(tmp_path / "lr"))
    other = record.load(tmp_path / "lr")["generator_eval"]
    assert other["classifier_trained"] is True and other["classifier"] != first["classifier"]
    assert len(list((tmp_path / "cache" / "eval_classifiers").glob("*.pt"))) == 2


@pytest.mark.slow
def test_a_run_killed_during_the_evaluation_resumes_and_finishes_it(tmp_path):
    run_dir = tmp_path / "run"
    slow_eval = [*SHORT, f"hydra.run.dir={run_dir}", "eval_gen.samples=200000", "eval_gen.rows_per_pass=200000"]
    proc = start(*slow_eval, cwd=tmp_path)
    log_file = tmp_path / "launch.out"
    deadline = time.time() + 600
    while "evaluating the generator" not in (log_file.read_text() if log_file.exists() else ""):
        assert proc.poll() is None and time.time() < deadline, log_file.read_text()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    cut = record.load(run_dir)
    assert cut["status"] == "running" and cut["tasks_done"] == 5 and "generator_eval" not in cut

    out = cli(*SHORT, f"hydra.run.dir={run_dir}", "eval_gen.samples=10", cwd=tmp_path)  # the command, in-process
    assert out.returncode == 0, out.stderr
    done = record.load(run_dir)
    assert done["status"] == "completed" and done["resumed_from_task"] == 5
    assert done["acc_matrix"] == cut["acc_matrix"] and done["generator_eval"]["samples"] == 10
    assert math.isfinite(done["generator_eval"]["ll"])
