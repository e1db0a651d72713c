"""Time to the first training iteration at Split CIFAR-100's sizes: 50,000 + 10,000 images of 3x32x32 in 100
classes, 10 tasks, through the frozen C3-5x16-bn encoder (random weights, synthetic images: no download).

Side by side in one run:
- cold: an empty feature cache; the run encodes task 1's images (5,000 + 1,000) and starts training;
- warm: the features of every image cached (as after any earlier run on the data);
- encode all: the time a run of all 10 tasks spends encoding the 60,000 images, which a run without per-task
  encoding waited before its first step (that run also writes the cache the warm run reads).

Each run is a real ``launch.py`` process (``trainer.max_tasks=1``, one iteration). "first step s" is the
record's ``timings.first_step_s`` (process start to the end of the first step, data and encoder set-up included);
"features s" the part of it spent making the inputs: task 1's encoding (cold) or loading the cached features of
every image (warm); "process s" the whole process, interpreter, imports and evaluation included.

    python benchmarks/first_iteration.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CIFAR100 = [
    "debug=cifar_shapes",
    "data.synthetic.train_per_class=500",
    "data.synthetic.test_per_class=100",
    "trainer.max_tasks=1",
    "trainer.iters=1",
    "trainer.log_every=1",
]


def run(tmp: str, name: str, threads: int, *extra: str) -> dict:
    env = {**os.environ, "BIRSWEEP_CACHE_DIR": os.path.join(tmp, "cache"), "WANDB_MODE": "disabled"}
    env["OMP_NUM_THREADS"] = str(threads)
    out_dir = os.path.join(tmp, name)
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "launch.py"), *CIFAR100, *extra, f"trainer.threads={threads}",
         f"hydra.run.dir={out_dir}"],
        cwd=tmp, env=env, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} run failed:\n{proc.stderr[-3000:]}")
    with open(os.path.join(out_dir, "results.json")) as f:
        timings = json.load(f)["timings"]
    return {"first_step_s": timings["first_step_s"], "features_s": timings.get("features_s", 0.0), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cold = run(tmp, "cold", args.threads)
        # every task, one iteration each: encodes all 60,000 images (and writes the cache) as the run goes
        all_s = run(tmp, "fill", args.threads, "trainer.max_tasks=null")["features_s"]
        if not os.listdir(os.path.join(tmp, "cache", "features")):
            raise SystemExit("the run over all tasks wrote no feature cache: the warm figure would be another cold one")
        warm = run(tmp, "warm", args.threads)
    load = os.getloadavg()[0]
    print(f"Split CIFAR-100 sizes, {args.threads} threads, load average {load:.1f} at the end")
    print(f"{'start':<12}{'first step s':>14}{'features s':>12}{'process s':>11}")
    for name, r in (("cold", cold), ("warm", warm)):
        print(f"{name:<12}{r['first_step_s']:>14.1f}{r['features_s']:>12.1f}{r['wall_s']:>11.1f}")
    print(f"encoding all 60,000 images: {all_s:.1f} s (the wait before the first step without per-task encoding)")
    before = all_s + cold["first_step_s"] - cold["features_s"]  # the same start with every image encoded first
    print(f"without per-task encoding the cold first step would come after about {before:.1f} s")
    print(f"per-task encoding starts x{before / cold['first_step_s']:.1f} sooner")


if __name__ == "__main__":
    main()
