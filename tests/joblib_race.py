"""``python tests/joblib_race.py [guard]``: four threads start joblib Parallel calls at once, with the window in which
joblib sets up a new executor widened (a sleep after loky hands out a new one). Prints the errors; exit 1 if any."""

from __future__ import annotations

import sys
import threading
import time

from joblib import Parallel, delayed
from joblib.externals.loky import reusable_executor

if len(sys.argv) > 1 and sys.argv[1] == "guard":
    # the guard's module alone, from its file: importing it as birsweep.sweep.search.joblib_guard imports the
    # birsweep.sweep package (torch, the config schema) here and in each loky worker, which unpickles the guard's
    # worker initializer by its module (~5 s a process); pickled by value, the workers import nothing of birsweep
    import importlib.util
    from pathlib import Path

    import cloudpickle

    path = Path(__file__).resolve().parents[1] / "birsweep" / "sweep" / "search" / "joblib_guard.py"
    spec = importlib.util.spec_from_file_location("_birsweep_joblib_guard", path)
    assert spec is not None and spec.loader is not None
    guard = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = guard
    spec.loader.exec_module(guard)
    cloudpickle.register_pickle_by_value(guard)
    guard.guard_joblib_executor()
    assert "torch" not in sys.modules, "the race script imports torch"

_loky_get = reusable_executor._ReusablePoolExecutor.__dict__["get_reusable_executor"].__func__


def _slow_when_new(cls, *args, **kwargs):
    executor, reused = _loky_get(cls, *args, **kwargs)
    if not reused:
        time.sleep(1.0)  # the other threads get this executor before joblib finished setting it up
    return executor, reused


reusable_executor._ReusablePoolExecutor.get_reusable_executor = classmethod(_slow_when_new)

errors: list = []
barrier = threading.Barrier(4)


def launch() -> None:
    barrier.wait()
    try:
        assert Parallel(n_jobs=2)(delayed(abs)(-j) for j in range(4)) == [0, 1, 2, 3]
    except Exception as err:  # noqa: BLE001 - collected and printed
        errors.append(f"{type(err).__name__}: {err}")


threads = [threading.Thread(target=launch) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("\n".join(errors) or "ok")
sys.exit(1 if errors else 0)
