"""Checkpoint after each task; resume continues from the last finished task with identical numbers on CPU.

A checkpoint holds the model (gate masks included), the optimiser, SI's importance, the RNG states and the
record's history. The previous model for replay is rebuilt as a frozen copy of the loaded model, which is
exactly what it was at the end of that task.

The file is one header line, ``birsweep-checkpoint sha256 <hex digest>``, then ``torch.save``'s bytes; the digest
is checked before anything is unpickled, so flipped bytes or a cut-off file are refused, never resumed from.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any, Dict, List, Optional

import torch

from birsweep.config_keys import without_neutral
from birsweep.errors import ResumeError, StorageError, first_line
from birsweep.io import atomic_write

CHECKPOINT = "checkpoint.pt"
HEADER = b"birsweep-checkpoint sha256 "


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
    buf = io.BytesIO()
    torch.save(payload, buf)
    body = buf.getvalue()
    digest = hashlib.sha256(body).hexdigest().encode("ascii")

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(HEADER + digest + b"\n")
            f.write(body)
            f.flush()
            os.fsync(f.fileno())

    path = path_in(run_dir)
    try:
        atomic_write(path, _write)  # digest and body land together, in one rename
    except OSError as err:
        raise StorageError(
            f"cannot write the checkpoint {path}: {err.strerror or err}; free space there or choose another "
            "hydra.run.dir"
        ) from err


def _damaged(path: str, why: str) -> ResumeError:
    return ResumeError(
        f"the checkpoint {path} {why}; use resume=false to start over in that run dir, or delete the file"
    )


def _read(path: str) -> Dict[str, Any]:
    """The payload of a checkpoint file whose digest matches its content."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as err:
        raise _damaged(path, f"cannot be read ({err.strerror or err})") from None
    header, _, body = blob.partition(b"\n")
    if not header.startswith(HEADER):
        raise _damaged(path, "has no digest line (damaged, or not written by this version of birsweep)")
    if hashlib.sha256(body).hexdigest().encode("ascii") != header[len(HEADER) :]:
        raise _damaged(path, "is damaged: its content does not match its sha256 digest (changed or cut-off file)")
    try:
        payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as err:  # a digest-clean file torch cannot read: refuse it with the reason, never a traceback
        raise _damaged(path, f"cannot be loaded ({type(err).__name__}: {first_line(err)[:200]})") from None
    if not isinstance(payload, dict) or "config" not in payload:
        raise _damaged(path, "is not a birsweep checkpoint")
    return payload


def load(run_dir: str, config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The checkpoint in ``run_dir`` if there is one, after checking it was made with the same settings."""
    path = path_in(run_dir)
    if not os.path.isfile(path):
        return None
    payload = _read(path)
    # a resumed run may differ from the checkpoint's only in keys that do not change its numbers
    diffs = differences(without_neutral(payload["config"]), without_neutral(config))
    if diffs:
        shown = "; ".join(diffs[:3]) + (" ..." if len(diffs) > 3 else "")
        raise ResumeError(
            f"the checkpoint in {run_dir} was made with other settings ({shown}); "
            "use resume=false to start over there, or choose another hydra.run.dir"
        )
    return payload
