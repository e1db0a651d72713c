"""Checkpoint after each task; resume continues from the last finished task with identical numbers on CPU.

A checkpoint holds the model (gate masks included), the optimiser, SI's importance, the RNG states and the
record's history. The previous model for replay is rebuilt as a frozen copy of the loaded model, which is
exactly what it was at the end of that task.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import torch

from birsweep.errors import ResumeError
from birsweep.io import atomic_write

CHECKPOINT = "checkpoint.pt"
# config keys that do not change the numbers a run produces, so a resumed run may differ in them
IGNORED_FOR_RESUME = ("resume", "paths", "logger", "optuna", "trainer.progress", "trainer.log_every",
                      "trainer.device", "trainer.threads", "trainer.eval_batch", "data.root", "data.download",
                      "experiment_name")


def path_in(run_dir: str) -> str:
    return os.path.join(run_dir, CHECKPOINT)


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _strip(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The config without the keys listed in IGNORED_FOR_RESUME."""
    out = {k: v for k, v in cfg.items()}
    for key in IGNORED_FOR_RESUME:
        head, _, rest = key.partition(".")
        if not rest:
            out.pop(head, None)
        elif isinstance(out.get(head), dict):
            out[head] = {k: v for k, v in out[head].items() if k != rest}
    return out


def differences(a: Any, b: Any, prefix: str = "") -> List[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        diffs: List[str] = []
        for key in sorted(set(a) | set(b)):
            diffs += differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return diffs
    return [] if a == b else [f"{prefix[:-1]}: {a!r} -> {b!r}"]


def save(run_dir: str, payload: Dict[str, Any]) -> None:
    atomic_write(path_in(run_dir), lambda tmp: torch.save(payload, tmp))


def load(run_dir: str, config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The checkpoint in ``run_dir`` if there is one, after checking it was made with the same settings."""
    path = path_in(run_dir)
    if not os.path.isfile(path):
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    diffs = differences(_strip(payload["config"]), _strip(config))
    if diffs:
        shown = "; ".join(diffs[:3]) + (" ..." if len(diffs) > 3 else "")
        raise ResumeError(f"the checkpoint in {run_dir} was made with other settings ({shown}); "
                          "use resume=false to start over there, or choose another hydra.run.dir")
    return payload
