"""Study throughput with ``hydra.sweeper.trials_per_job=K``: completed trials per hour of one small study run with
K = 1, 4, 8, 16 trials per job, side by side in one run (docs/sweeps.md, Many trials per job). Besides wall
time it gives the study's own CPU time (trials per CPU hour), the fairer figure on a machine other jobs share.

Each study is a real ``python launch.py -m`` sweep (Optuna sweeper, basic launcher, random sampler, no pruner)
of ``--trials`` trials over ``trainer.lr`` and ``model.distill_temp`` (``baseline``), and for ``repulsion`` also
over ``variant.repulsion.lamda_rep`` and ``variant.rep_f`` (with ``use_rep_f=true``), in a fresh sweep dir, at one
of two shapes:

* ``mnist``: split-MNIST shapes (synthetic 1x28x28 data, 10 classes in 5 tasks, fc 400-400, z 100, batch 128);
* ``small``: the test suite's ``debug=tiny`` (8x8 data, fc 64), where the step is far from its arithmetic.

    python benchmarks/study_throughput.py [--shapes mnist small] [--studies baseline repulsion]
                                          [--ks 1 4 8 16] [--trials 16] [--iters 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SHAPES: Dict[str, List[str]] = {
    "mnist": [
        "data=synthetic",
        "data.synthetic.shape=[1,28,28]",
        "data.synthetic.train_per_class=600",
        "data.synthetic.test_per_class=100",
        "trainer.batch_size=128",
    ],
    "small": ["debug=tiny"],
}
STUDIES: Dict[str, List[str]] = {
    "baseline": [],
    "repulsion": [
        "variant=repulsion",
        "variant.use_rep_f=true",
        "variant.repulsion.lamda_rep=tag(log, interval(1e-4, 1e-1))",
        "variant.rep_f=interval(1.0, 20.0)",
    ],
}


def run_study(shape: str, study: str, k: int, trials: int, iters: int, threads: int, where: str) -> Dict[str, float]:
    """Run one study to its end; its wall time and how many of its trials completed."""
    sweep_dir = os.path.join(where, f"{shape}-{study}-k{k}")
    args = [
        sys.executable,
        os.path.join(ROOT, "launch.py"),
        "-m",
        *SHAPES[shape],
        *STUDIES[study],
        "logger=none",
        f"trainer.iters={iters}",
        f"trainer.log_every={max(1, iters // 2)}",
        "trainer.progress=false",
        f"trainer.threads={threads}",
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=random",
        "hydra/sweeper/pruner=nop",
        "hydra.sweeper.sampler.seed=0",
        "hydra.sweeper.dashboard_hint=false",
        f"hydra.sweeper.study_name=throughput-{shape}-{study}-k{k}",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweeper.trials_per_job={k}",
        f"hydra.sweep.dir={sweep_dir}",
        "trainer.lr=tag(log, interval(1e-4, 1e-2))",
        "model.distill_temp=interval(1.0, 4.0)",
    ]
    # this checkout first on PYTHONPATH, the rest kept (on a bare GPU machine: the folder the wheels went to)
    path = os.pathsep.join([ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), WANDB_MODE="disabled", PYTHONPATH=path)
    env.setdefault("BIRSWEEP_CACHE_DIR", os.path.join(where, "cache"))
    t0, cpu0 = time.time(), _children_cpu()
    out = subprocess.run(args, cwd=where, env=env, capture_output=True, text=True)
    seconds, cpu = time.time() - t0, _children_cpu() - cpu0
    if out.returncode != 0:
        raise SystemExit(f"the K={k} study failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    with sqlite3.connect(os.path.join(sweep_dir, "optuna.db")) as db:
        done = db.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    return {"seconds": seconds, "cpu": cpu, "completed": float(done), "per_hour": done / seconds * 3600}


def _children_cpu() -> float:
    """CPU seconds (user + system) of finished child processes: on a shared machine, what a study itself used."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["mnist", "small"], choices=sorted(SHAPES))
    ap.add_argument("--studies", nargs="+", default=["baseline", "repulsion"], choices=sorted(STUDIES))
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 4, 8, 16])
    ap.add_argument("--trials", type=int, default=16, help="trials per study (a multiple of every K is fairest)")
    ap.add_argument("--iters", type=int, default=10, help="iterations per task (5 tasks)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the study's one process")
    a = ap.parse_args()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"{a.trials} trials per study, 5 tasks x {a.iters} iterations per trial, {a.threads} thread(s)\n")
    print(
        "| shape | study | trials per job | study s | CPU s | completed | trials / hour | vs K=1 | per CPU hour "
        "| vs K=1 |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as where:
        for shape, study in [(shape, study) for shape in a.shapes for study in a.studies]:
            base = base_cpu = None
            for k in a.ks:
                r = run_study(shape, study, k, a.trials, a.iters, a.threads, where)
                per_cpu_hour = r["completed"] / r["cpu"] * 3600
                base, base_cpu = base or r["per_hour"], base_cpu or per_cpu_hour
                print(
                    f"| {shape} | {study} | {k} | {r['seconds']:.1f} | {r['cpu']:.1f} | {int(r['completed'])} "
                    f"| {r['per_hour']:.0f} | {r['per_hour'] / base:.2f}x | {per_cpu_hour:.0f} "
                    f"| {per_cpu_hour / base_cpu:.2f}x |",
                    flush=True,
                )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
