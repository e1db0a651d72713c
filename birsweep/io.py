"""Atomic file writes: a reader (or a crash) never sees half a file (and the one exception, for a full disk)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any, Callable, Iterable, List

TMP_SUFFIX = ".tmp"


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` and move the result over ``path`` in one rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text(path: str, text: str) -> None:
    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, _write)


def json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False, default=str) + "\n"


def write_json(path: str, obj: Any) -> None:
    write_text(path, json_text(obj))


def rewrite_in_place(path: str, text: str) -> bool:
    """Last resort on a full disk: write ``text`` over ``path`` inside the blocks the file already holds, so no new
    space is needed; False (nothing written) when it would not fit them or there is no file. Not atomic: a crash in
    the middle would leave a cut-off file, which readers skip by name."""
    body = text.encode("utf-8")
    try:
        if len(body) > os.stat(path).st_blocks * 512:  # st_blocks counts 512-byte units
            return False
        with open(path, "r+b") as f:
            f.write(body)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
        return True
    except OSError:
        return False


def remove_stale_tmp(folder: str, names: Iterable[str], older_than: float) -> List[str]:
    """Remove the temporary files :func:`atomic_write` left in ``folder`` for ``names`` when a kill cut a write
    short (``.<name>.<random>.tmp``), if last touched before ``older_than`` (a time stamp); returns their paths.
    Only our own pattern is touched, so a user's files in the folder are safe."""
    if not os.path.isdir(folder):
        return []
    alternatives = "|".join(re.escape(n) for n in names)
    pattern = re.compile(rf"^\.(?:{alternatives})\.[A-Za-z0-9_]+{re.escape(TMP_SUFFIX)}$")
    removed = []
    for entry in os.scandir(folder):
        if not pattern.match(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < older_than:
                os.remove(entry.path)
                removed.append(entry.path)
        except FileNotFoundError:  # gone meanwhile
            pass
    return removed
