"""Checkpoint after each task; resume continues from the last finished task with identical numbers on CPU.

A checkpoint holds the model (gate masks included), the optimiser, SI's importance, the RNG states and the
record's history. The previous model for replay is rebuilt as a frozen copy of the loaded model, which is
exactly what it was at the end of that task.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import torch

from birsweep.config_keys import without_neutral
from birsweep.errors import ResumeError
from birsweep.io import atomic_write

CHECKPOINT = "checkpoint.pt"


def path_in(run_dir: str) -> str:
    return os.path.join(run_dir, CHECKPOINT)


def rng_state() -> Dict[str, Any]:
    state: Dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    # a resumed run may differ from the checkpoint's only in keys that do not change its numbers
    diffs = differences(without_neutral(payload["config"]), without_neutral(config))
    if diffs:
        shown = "; ".join(diffs[:3]) + (" ..." if len(diffs) > 3 else "")
        raise ResumeError(
            f"the checkpoint in {run_dir} was made with other settings ({shown}); "
            "use resume=false to start over there, or choose another hydra.run.dir"
        )
    return payload
