"""Caches built once by processes that want them at the same moment (birsweep/build_once.py): real processes
racing for one file, a builder SIGKILLed half-way, and the encoder's pre-training and the evaluation classifier
going through it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILDER = textwrap.dedent(
    """
    import os, sys, time
    from birsweep.build_once import build_once
    from birsweep.io import atomic_write

    path, log, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])

    def build():
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\\n")
        open(path + ".building", "w").close()
        time.sleep(hold)  # long enough for the others to arrive and wait
        atomic_write(path, lambda tmp: open(tmp, "w").write(f"made by {os.getpid()}"))

    built = build_once(path, build)
    print("built" if built else "loaded", open(path).read())
    """
)


def _start(tmp_path, hold: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        "-c",
        BUILDER,
        str(tmp_path / "cache" / "thing.pt"),
        str(tmp_path / "builds.log"),
        str(hold),
    ]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(path: Path, timeout: float = 120) -> None:
    end = time.time() + timeout
    while not path.exists():
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_processes_racing_for_one_cache_file_build_it_once(tmp_path):
    first = _start(tmp_path, hold=3.0)
    _wait_for(tmp_path / "cache" / "thing.pt.building")  # the first holds the lock and builds
    others = [_start(tmp_path, hold=0.0) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in [first, *others]]
    assert all(p.returncode == 0 for p in [first, *others]), outs
    builders = (tmp_path / "builds.log").read_text().split()
    assert builders == [str(first.pid)]
    assert [o.split()[0] for o, _ in outs] == ["built", "loaded", "loaded", "loaded"]
    assert {o.split(" ", 1)[1].strip() for o, _ in outs} == {f"made by {first.pid}"}


def test_a_builder_killed_half_way_leaves_the_next_one_to_build(tmp_path):
    doomed = _start(tmp_path, hold=600.0)
    _wait_for(tmp_path / "cache" / "thing.pt.building")
    waiting = _start(tmp_path, hold=0.0)
    time.sleep(1.0)
    assert waiting.poll() is None  # it waits for the lock
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=60)
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert out.split()[0] == "built" and (tmp_path / "builds.log").read_text().split() == [
        str(doomed.pid),
        str(waiting.pid),
    ]
    assert (tmp_path / "cache" / "thing.pt").read_text() == f"made by {waiting.pid}"
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []  # the killed builder's write never started: nothing half-written


def test_pretraining_takes_the_build_path(monkeypatch, tmp_path):
    from omegaconf import OmegaConf

    import birsweep.train.pretrain as pre
    from birsweep.schema import PretrainConfig

    seen = []
    monkeypatch.setattr(pre, "build_once", lambda path, build, force=False: seen.append((path, force)))
    recipe = OmegaConf.structured(PretrainConfig)
    path = pre.ensure_pretrained(recipe, str(tmp_path), str(tmp_path), False, None)  # type: ignore[arg-type]
    assert seen == [(path, False)] and path == pre.cached_weights_path(str(tmp_path), recipe)


def test_a_run_waits_for_the_evaluation_classifier_another_process_is_training(monkeypatch, tmp_path):
    """While another holder of the lock trains and writes the classifier, load_or_train(train=True) waits, then
    loads that classifier instead of training its own."""
    import threading

    import torch

    import birsweep.gen_eval.classifier as clf
    from birsweep.build_once import cache_lock
    from birsweep.io import atomic_write
    from birsweep.train.loop.run import Run
    from tests.test_gen_eval_run import _cifar

    run = Run(_cifar(tmp_path), str(tmp_path / "run"))
    run.setup()
    recipe, cache = run.cfg.eval_gen.classifier, str(tmp_path / "cache")
    path = clf.cache_path(recipe, run.inputs, cache)
    n_classes = run.inputs.arrays.n_classes
    theirs = clf.EvalClassifier(run.inputs.dim, recipe.fc_units, n_classes)
    holding, done = threading.Event(), threading.Event()

    def other_builder() -> None:
        with cache_lock(path):
            holding.set()
            time.sleep(1.0)
            state = {k: v.clone() for k, v in theirs.state_dict().items()}
            atomic_write(path, lambda tmp: torch.save({"state": state}, tmp))
            done.set()

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained a second classifier")

    monkeypatch.setattr(clf, "train_classifier", must_not_train)
    thread = threading.Thread(target=other_builder)
    thread.start()
    assert holding.wait(60)
    model, info = clf.load_or_train(recipe, run.inputs, cache, torch.device("cpu"), train=True)
    thread.join(60)
    assert done.is_set() and info == {"classifier": path, "classifier_trained": False}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), theirs.state_dict().values()))
