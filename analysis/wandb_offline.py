"""Read an offline W&B run (``run-<id>.wandb``) back: run settings, config, history rows, summary, exit code.

The file is W&B's transaction log: a 7-byte header (``:W&B``, magic 0xBEE1, version 0) and then LevelDB log
records in 32 KiB blocks (each chunk: CRC32C, little-endian 16-bit length, type FULL/FIRST/MIDDLE/LAST), each
record a serialised ``wandb_internal_pb2.Record``. Used by the tests and by anyone checking what a run logged
before ``wandb sync``; needs no network.
"""

from __future__ import annotations

import glob
import json
import os
import struct
import time
from typing import Any, Dict, Iterator, List

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32768
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(HEADER):
        raise ValueError(f"{path} is not a W&B transaction log (bad header)")
    pos, pending = len(HEADER), b""
    while pos + CHUNK_HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER:  # the block's tail is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + CHUNK_HEADER])
        if pos + CHUNK_HEADER + length > len(data):  # a chunk still being written
            break
        body = data[pos + CHUNK_HEADER : pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        if kind == 0 and length == 0:  # zero fill (a record still being written)
            break
        if kind == FULL:
            yield body
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        elif kind == LAST:
            yield pending + body
            pending = b""


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def _history_value(item) -> Any:
    which = item.WhichOneof("value")
    if which is None:
        return json.loads(item.value_json) if item.value_json else None
    if which == "none":
        return None
    if which == "json":
        return json.loads(item.json)
    return getattr(item, which)


def _apply(target: Dict[str, Any], update, remove=()) -> None:
    for item in update:
        target[_key(item)] = json.loads(item.value_json)
    for item in remove:
        target.pop(_key(item), None)


def read_run(path: str, wait: float = 0.0) -> Dict[str, Any]:
    """Everything a ``.wandb`` file holds that matters to us. ``path``: the file or its offline-run dir.

    W&B's service process writes the file in the background, also for a moment after ``run.finish()`` has
    returned: ``wait`` > 0 re-reads for up to that many seconds until the run's exit record is there.

    Returns ``run`` (id, project, entity, group, job_type, name, notes, tags), ``config`` (as logged, without
    W&B's ``{"value": ...}`` envelopes), ``history`` (one dict per committed step, with ``_step``),
    ``summary`` (last history values updated by explicit summary writes, as W&B computes it) and
    ``exit_code`` (None when the run was never finished).
    """
    if os.path.isdir(path):
        files = glob.glob(os.path.join(path, "*.wandb"))
        if len(files) != 1:
            raise FileNotFoundError(f"expected one .wandb file in {path}, found {len(files)}")
        path = files[0]
    deadline = time.monotonic() + wait
    while True:
        out = _read(path)
        if out["exit_code"] is not None or time.monotonic() >= deadline:
            return out
        time.sleep(0.2)


def _read(path: str) -> Dict[str, Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    out: Dict[str, Any] = {"path": path, "run": {}, "config": {}, "history": [], "summary": {}, "exit_code": None}
    explicit: Dict[str, Any] = {}
    for payload in _payloads(path):
        rec = pb.Record()  # type: ignore[attr-defined]  # wandb picks its protobuf module at import: no stub
        rec.ParseFromString(payload)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run = rec.run
            out["run"] = {
                "id": run.run_id,
                "project": run.project,
                "entity": run.entity,
                "group": run.run_group,
                "job_type": run.job_type,
                "name": run.display_name,
                "notes": run.notes,
                "tags": list(run.tags),
            }
            _apply(out["config"], run.config.update)
            _apply(explicit, run.summary.update)
        elif kind == "config":
            _apply(out["config"], rec.config.update, rec.config.remove)
        elif kind == "history":
            row = {_key(item): _history_value(item) for item in rec.history.item}
            if rec.history.HasField("step"):
                row.setdefault("_step", rec.history.step.num)
            out["history"].append(row)
        elif kind == "summary":
            _apply(explicit, rec.summary.update, rec.summary.remove)
        elif kind == "exit":
            out["exit_code"] = rec.exit.exit_code
    out["config"] = {
        k: (v["value"] if isinstance(v, dict) and "value" in v else v)
        for k, v in out["config"].items()
        if k != "_wandb"
    }
    summary: Dict[str, Any] = {}
    for row in out["history"]:
        summary.update({k: v for k, v in row.items() if not k.startswith("_")})
    summary.update(explicit)
    out["summary"] = summary
    return out


def find_runs(root: str) -> List[str]:
    """Offline (and synced online) W&B run dirs under ``root``, oldest first."""
    dirs = glob.glob(os.path.join(root, "**", "offline-run-*"), recursive=True)
    dirs += glob.glob(os.path.join(root, "**", "run-*-*"), recursive=True)
    return sorted({d for d in dirs if os.path.isdir(d) and glob.glob(os.path.join(d, "*.wandb"))})


def history_of(run: Dict[str, Any], key: str) -> List[Any]:
    """(step, value) pairs of one logged key."""
    return [(row.get("_step"), row[key]) for row in run["history"] if key in row]
