"""Everything about birsweep on one GPU in one command of a few minutes, printed as one table and written as JSON.

Parts (each guarded and given a time budget: one that fails or runs over is reported, the others still run, and the
command exits 1 at the end):

* ``agree``: the step on the device (eager, ``trainer.compile=step`` as a CUDA graph, K = 4 trials batched) against
  a float64 run on the CPU with the same seed and random draws, at CIFAR-100 shapes (benchmarks/gpu_agree.py);
* ``speed``: it/s, aten ops or kernels per step, CUDA launches and peak memory of the baseline, repulsion, recon and
  contrastive steps in tasks 2+, eager against compiled (benchmarks/compile_speed.py's ``measure``);
* ``paper``: the paper's run (10 tasks x 5,000 iterations) counted with FlopCounterMode against the device's fp32
  peak (published and measured with a large ``torch.mm``), and extrapolated from the measured it/s;
* ``resume``: one ``launch.py`` run killed with SIGKILL once task 1's checkpoint and record are written, resumed,
  and its ``acc_matrix`` compared with an uninterrupted run's;
* ``study``: trials per hour of a 16-trial study at split-MNIST shapes with K = 1, 4, 16 trials per process
  (benchmarks/study_throughput.py's ``run_study``).

    python benchmarks/gpu_check.py [--device auto] [--tiny] [--parts agree,speed,...] [--json PATH]

``--device cpu --tiny`` runs every part at the test suite's tiny sizes in well under a minute (tests/test_gpu_check.py).
The JSON goes to ``$OUT/gpu_check.json`` when ``OUT`` is set, else beside this file. Setting up a bare GPU machine:
benchmarks/README.md, GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import torch  # noqa: E402
from compile_speed import measure  # type: ignore[import-not-found]  # noqa: E402
from flops import count_flops, matmul_peak, spec_peak  # type: ignore[import-not-found]  # noqa: E402
from gpu_agree import agree, make_setup, run_single  # type: ignore[import-not-found]  # noqa: E402
from study_throughput import run_study  # type: ignore[import-not-found]  # noqa: E402

VARIANTS = ("baseline", "repulsion", "recon", "contrastive")
PAPER_TASKS, PAPER_ITERS = 10, 5000
# the sizes of each part: a GPU run (CIFAR-100 and split-MNIST shapes) and --tiny (the test suite's sizes, a CPU)
FULL: Dict[str, Any] = dict(
    shape="cifar",
    agree=dict(tasks=3, iters=4, per_class=30, k=4),
    speed_iters=20,
    speed_compiled=VARIANTS,  # the variants also measured compiled (the contrastive step stays eager: a warning)
    explain=True,  # count graph breaks (one more trace per compiled variant)
    mm=8192,
    resume=["debug=cifar_shapes", "trainer.max_tasks=3", "trainer.iters=5"],
    study=dict(shape="mnist", ks=(1, 4, 16), trials=16, iters=30),
    # caps that keep the command within 6 minutes: a part over its cap is reported with what it had measured
    budget=dict(agree=80, speed=120, paper=20, resume=50, study=70),
)
TINY: Dict[str, Any] = dict(
    shape="tiny",
    agree=dict(tasks=2, iters=2, per_class=20, k=2),
    speed_iters=3,
    speed_compiled=("baseline",),
    explain=False,
    mm=256,
    resume=["debug=tiny", "data.synthetic.n_classes=6", "data.n_tasks=3", "trainer.iters=3", "trainer.threads=1"],
    study=dict(shape="small", ks=(1, 4), trials=4, iters=2),
    budget=dict(agree=120, speed=120, paper=90, resume=120, study=120),  # safety nets on a loaded CPU
)
PARTS = ("agree", "speed", "paper", "resume", "study")


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in this (the main) thread once ``seconds`` have passed; a child process that
    ``subprocess.run`` waits for is killed on the way out."""

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"over its budget of {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: on a shared machine, what the check itself used."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child_env(where: str) -> Dict[str, str]:
    """A launch.py child's environment: this checkout first on PYTHONPATH (kept: the wheels' folder on a bare
    machine), caches under ``where``, no W&B."""
    path = [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path), BIRSWEEP_CACHE_DIR=where, WANDB_MODE="disabled")


# --- the parts: each fills ``out`` as it goes (what it had measured stays when it fails or runs out of time) ----
def part_agree(out: Dict[str, Any], plan: Dict[str, Any], device: torch.device, inner: Any) -> None:
    out.update(agree(device, plan["shape"], inner=inner, **plan["agree"]))


def part_speed(out: Dict[str, Any], plan: Dict[str, Any], device: torch.device, inner: Any) -> None:
    rows: List[Dict[str, Any]] = out.setdefault("rows", [])
    for variant in VARIANTS:
        for mode in ("off", "step") if variant in plan["speed_compiled"] else ("off",):
            r = measure(plan["shape"], variant, mode, plan["speed_iters"], str(device), inner, plan["explain"])
            rows.append(r)
    out["ok"] = all(r["it_per_s"] > 0 for r in rows)


def step_flops(shape: str, device: torch.device) -> Dict[str, float]:
    """FLOPs of one step in task 1 (no replay) and in tasks 2+ (replay, SI penalty), the baseline's."""
    s = make_setup(shape, 2, 1, 2)
    first = count_flops(lambda: run_single(s.first(1), "baseline", device, torch.float32, "off"))
    both = count_flops(lambda: run_single(s, "baseline", device, torch.float32, "off"))
    return {"task1": float(first), "task2": float(both - first)}


def part_paper(out: Dict[str, Any], plan: Dict[str, Any], device: torch.device, speed: Dict[str, Any]) -> None:
    f = step_flops(plan["shape"], device)
    total = PAPER_ITERS * (f["task1"] + (PAPER_TASKS - 1) * f["task2"])
    out.update(gflop_task1=f["task1"] / 1e9, gflop_task2=f["task2"] / 1e9, pflop=total / 1e15)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    peaks = {"measured mm": matmul_peak(device, plan["mm"])}
    if spec_peak(name) is not None:
        peaks["published"] = spec_peak(name)
    out["peaks_tflops"] = {k: v / 1e12 for k, v in peaks.items()}
    out["bound_s"] = {k: total / v for k, v in peaks.items()}
    steps = PAPER_TASKS * PAPER_ITERS
    for r in speed.get("rows", []):
        if r["variant"] == "baseline":  # every step at the tasks 2+ rate: task 1's cheaper steps make it an upper bound
            out.setdefault("extrapolated_s", {})[r["mode"]] = steps / r["it_per_s"]
            out.setdefault("fraction_of_mm_peak", {})[r["mode"]] = f["task2"] * r["it_per_s"] / peaks["measured mm"]
    out["ok"] = total > 0


def part_resume(out: Dict[str, Any], plan: Dict[str, Any], device: torch.device) -> None:
    from birsweep.tracking import record

    with tempfile.TemporaryDirectory() as where:
        env = child_env(os.path.join(where, "cache"))
        base = [sys.executable, os.path.join(ROOT, "launch.py"), *plan["resume"], "logger=none"]
        base += [f"trainer.device={device.type}", "trainer.progress=false"]

        def run(name: str) -> subprocess.CompletedProcess:
            done = subprocess.run(base + [f"hydra.run.dir={where}/{name}"], env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"launch.py ({name}) exited {done.returncode}: {done.stderr[-1500:]}")
            return done

        start = time.perf_counter()
        run("whole")
        out["whole_s"] = time.perf_counter() - start
        cmd = base + [f"hydra.run.dir={where}/cut"]
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            try:
                assert proc.stdout is not None
                for line in proc.stdout:  # the line the run logs once task 1's checkpoint and record are written
                    if "after task 1/" in line:
                        proc.send_signal(signal.SIGKILL)
                        break
            finally:
                proc.kill()
        out["exit_at_kill"] = proc.wait()
        cut = record.load(os.path.join(where, "cut"))
        out["tasks_at_kill"], out["status_at_kill"] = len(cut["acc_matrix"]), cut["status"]
        run("cut")
        whole, resumed = record.load(os.path.join(where, "whole")), record.load(os.path.join(where, "cut"))
    a, b = whole["acc_matrix"], resumed["acc_matrix"]
    out["n_tasks"], out["equal"] = len(a), a == b
    pairs = [(x, y) for ra, rb in zip(a, b) for x, y in zip(ra, rb) if x is not None and y is not None]
    out["max_diff"] = max(abs(x - y) for x, y in pairs) if pairs and len(a) == len(b) else None
    out["ok"] = out["equal"] and out["exit_at_kill"] == -signal.SIGKILL and out["tasks_at_kill"] < len(a)


def part_study(out: Dict[str, Any], plan: Dict[str, Any]) -> None:
    p = plan["study"]
    rows: List[Dict[str, Any]] = out.setdefault("rows", [])
    with tempfile.TemporaryDirectory() as where:
        for k in p["ks"]:
            r = run_study(p["shape"], "baseline", k, p["trials"], p["iters"], 1, where)
            rows.append({"k": k, "shape": p["shape"], "trials": p["trials"], "iters": p["iters"], **r})
    out["ok"] = all(r["completed"] == p["trials"] for r in rows)


# --- the table ------------------------------------------------------------------------------------------------------
def _agree_lines(p: Dict[str, Any]) -> Iterator[str]:
    for r in p.get("rows", []):
        extra = f", vs eager {r['vs_eager']:.1e}, CUDA graph skips {r['cudagraph_skips']}" if "vs_eager" in r else ""
        yield (
            f"| agree | {r['mode']} | losses {r['loss_rel']:.1e} (tol {r['loss_tol']:.0e}), parameters "
            f"{r['param_rel']:.1e} (tol {r['param_tol']:.0e}){extra} | {'yes' if r['ok'] else 'NO'} |"
        )


def _speed_lines(p: Dict[str, Any]) -> Iterator[str]:
    for r in p.get("rows", []):
        eager = next((e for e in p["rows"] if e["variant"] == r["variant"] and e["mode"] == "off"), r)
        work = f"{r['ops_per_step']} aten ops" if "ops_per_step" in r else ""
        if "generated_kernels" in r:  # inductor's kernels and the matmuls it calls out to
            work = f"{r['generated_kernels'] + eager.get('extern_per_step', 0)} kernels"
            work += f", {r['graph_breaks']} graph breaks" if "graph_breaks" in r else ""
        if "launches_per_step" in r:
            work += f", {r['launches_per_step']:.0f} launches + {r['graph_launches_per_step']:.0f} graph launches"
        rel = f", {r['it_per_s'] / eager['it_per_s']:.2f}x eager" if r is not eager else ""
        memory = "MB allocated" if r["device"].startswith("cuda") else "MB process RSS"
        figures = f"{r['it_per_s']:.2f} it/s{rel}, {work}, {r['peak_mb']:.0f} {memory}"
        yield f"| speed | {r['variant']} {r['mode']} | {figures} | |"


def _paper_lines(p: Dict[str, Any]) -> Iterator[str]:
    if "pflop" not in p:
        return
    yield (
        f"| paper | FLOPs | {p['gflop_task1']:.4g} GFLOP/step in task 1, {p['gflop_task2']:.4g} in tasks 2+: "
        f"{p['pflop']:.3g} PFLOP for {PAPER_TASKS} tasks x {PAPER_ITERS} | |"
    )
    for k, v in p.get("bound_s", {}).items():
        yield f"| paper | bound, {k} peak | {v:.3g} s at {p['peaks_tflops'][k]:.3g} TFLOP/s fp32 | |"
    for k, v in p.get("extrapolated_s", {}).items():
        frac = p["fraction_of_mm_peak"][k]
        yield f"| paper | run at {k} it/s | {v:.0f} s ({frac:.1%} of the mm peak in tasks 2+) | |"


def _resume_lines(p: Dict[str, Any]) -> Iterator[str]:
    if "equal" in p:
        yield (
            f"| resume | SIGKILL after task 1, resumed | killed with {p['tasks_at_kill']} of {p['n_tasks']} tasks "
            f"recorded; acc_matrix {'equal' if p['equal'] else 'DIFFERS'} (max diff {p['max_diff']}) "
            f"| {'yes' if p['ok'] else 'NO'} |"
        )


def _study_lines(p: Dict[str, Any]) -> Iterator[str]:
    for r in p.get("rows", []):
        yield (
            f"| study | K={r['k']} | {int(r['completed'])}/{r['trials']} trials in {r['seconds']:.1f} s: "
            f"{r['per_hour']:.0f} trials/h ({r['per_hour'] / p['rows'][0]['per_hour']:.2f}x K=1) | |"
        )


LINES = dict(agree=_agree_lines, speed=_speed_lines, paper=_paper_lines, resume=_resume_lines, study=_study_lines)


def lines(name: str, p: Dict[str, Any]) -> Iterator[str]:
    """The table's rows of one part: its figures, and its error if it failed."""
    if p.get("error"):
        yield f"| {name} | failed after {p['seconds']:.0f} s | {p['error']} | NO |"
    yield from LINES[name](p)


def environment(device: torch.device, tiny: bool) -> Dict[str, Any]:
    env: Dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    env.update(tiny=tiny, cuda=torch.version.cuda, threads=torch.get_num_threads(), load=os.getloadavg()[0])
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
        env["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    return env


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto | cuda | cuda:N | cpu")
    p.add_argument("--tiny", action="store_true", help="every part at the test suite's tiny sizes")
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--json", default=None, help="default: $OUT/gpu_check.json, else benchmarks/gpu_check.json")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiplies every part's time budget")
    args = p.parse_args()
    from birsweep.device import pick_device

    device = pick_device(args.device)
    plan = TINY if args.tiny else FULL
    inner = "aot_eager" if args.tiny else None  # tiny: no C++ or Triton build
    started = time.perf_counter()
    results: Dict[str, Any] = {"env": environment(device, args.tiny), "parts": {}}
    print(f"gpu_check: torch {torch.__version__} on {results['env'].get('device_name', device)}", flush=True)
    calls: Dict[str, Callable[[Dict[str, Any]], None]] = {
        "agree": lambda o: part_agree(o, plan, device, inner),
        "speed": lambda o: part_speed(o, plan, device, inner),
        "paper": lambda o: part_paper(o, plan, device, results["parts"].get("speed", {})),
        "resume": lambda o: part_resume(o, plan, device),
        "study": lambda o: part_study(o, plan),
    }
    for name in args.parts.split(","):
        out: Dict[str, Any] = results["parts"].setdefault(name, {"ok": False})
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        try:
            with deadline(plan["budget"][name] * args.time_scale):
                calls[name](out)
        except Exception as err:  # one part's failure is reported; the others still run
            out.update(ok=False, error=f"{type(err).__name__}: {str(err)[:300]}", trace=traceback.format_exc()[-3000:])
        out["seconds"], out["cpu_s"] = time.perf_counter() - t0, cpu_seconds() - cpu0
        print(
            f"{name}: {'ok' if out['ok'] else 'FAILED'} in {out['seconds']:.0f} s ({out['cpu_s']:.0f} CPU s)",
            flush=True,
        )
    results["seconds"] = time.perf_counter() - started
    results["failed"] = [n for n, r in results["parts"].items() if not r["ok"]]
    path = args.json or os.path.join(os.environ.get("OUT") or HERE, "gpu_check.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=str)
    env = results["env"]
    print(
        f"\ntorch {env['torch']} (CUDA {env['cuda']}), Python {env['python']}, {env.get('device_name', device)}, ",
        end="",
    )
    print(f"{'tiny' if args.tiny else 'full'} sizes, {results['seconds']:.0f} s")
    print("| part | what | figures | ok |\n| --- | --- | --- | --- |")
    for name, part in results["parts"].items():
        try:
            print("\n".join(lines(name, part)))
        except Exception as err:  # a part that stopped half-way may lack a figure its lines read
            print(f"| {name} | (its lines: {type(err).__name__}: {err}) | | |")
    print(f"failed: {', '.join(results['failed']) or 'none'}")
    print(f"figures: {path}")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
