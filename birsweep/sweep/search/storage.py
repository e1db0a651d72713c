"""Where a study lives: the one reading of a storage spec, for the sweeper, its jobs and ``analysis``.

* a string with ``://`` is a database URL for Optuna's RDBStorage: ``sqlite:////abs/path/optuna.db``,
  ``postgresql://user:password@host:5432/db`` (SQLAlchemy 2.1 drives it with psycopg 3:
  ``pip install -e '.[postgres]'``; ``postgresql+psycopg2://`` uses psycopg2), ...;
* a path ending in ``.log`` is a journal file (Optuna's ``JournalFileBackend``: appends only, locks with a
  symlink, safe on NFS where SQLite's locking is not);
* an existing file is what its content says: an SQLite database, or a journal (whatever its suffix);
* an existing directory holding ``optuna.db`` (a sweep dir) is that SQLite file;
* nothing (``null``) is the sweeper's default, a SQLite file ``optuna.db`` in the sweep dir.

Passwords never reach a log, a record or a file written by the sweeper: everything shown goes through
:func:`birsweep.secrets.mask_url`. Keep them out of the config too: ``storage: ${oc.env:STUDY_DB}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Literal

from birsweep.errors import ConfigError, first_line
from birsweep.secrets import mask_url, mask_url_password_in

DEFAULT_FILE = "optuna.db"
SQLITE_TIMEOUT_S = 60  # parallel trials write to one SQLite file: wait for its lock instead of failing
SQLITE_HEADER = b"SQLite format 3\x00"

if TYPE_CHECKING:  # optuna is imported when a storage is opened: reading a spec (analysis) does not need it
    import optuna


class StorageNotFoundError(ConfigError, FileNotFoundError):
    """A storage given as a path that holds no study: no such file, or not an SQLite or journal file."""


@dataclass(frozen=True)
class StorageSpec:
    kind: Literal["rdb", "journal"]
    location: str  # the database URL (SQLite paths absolute), or the journal file's absolute path


def sqlite_url(path: str) -> str:
    """The SQLAlchemy URL of the SQLite file ``path`` (made absolute): a path is data, so it is percent-encoded;
    unencoded, a ``?`` would start the URL's query (``x/q?x/optuna.db`` opened ``x/q``) and SQLAlchemy would
    decode a ``%20`` in a dir's name into a space."""
    return "sqlite:///" + urllib.parse.quote(os.path.abspath(path), safe="/")


def sqlite_file(url: str) -> str:
    """The file an ``sqlite:///`` URL names: the inverse of :func:`sqlite_url` (the query is not part of it)."""
    return urllib.parse.unquote(url[len("sqlite:///") :].split("?", 1)[0])


def default_storage(sweep_dir: str) -> str:
    return sqlite_url(os.path.join(sweep_dir, DEFAULT_FILE))


def is_journal_file(path: str) -> bool:
    """An Optuna journal: JSON lines with ``op_code`` (Hydra's job logs also end with .log)."""
    try:
        with open(path, encoding="utf-8") as f:
            return "op_code" in json.loads(f.readline())
    except (OSError, ValueError, TypeError):
        return False


def is_sqlite_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def parse(spec: str) -> StorageSpec:
    """What ``spec`` names (module docstring); relative paths made absolute, since jobs may run elsewhere."""
    spec = str(spec).strip()
    if "://" in spec:
        if spec.startswith("sqlite:///") and not spec.startswith("sqlite:////") and spec != "sqlite:///:memory:":
            relative = spec[len("sqlite:///") :]  # written as a URL: already encoded, the cwd is not
            spec = "sqlite:///" + urllib.parse.quote(os.getcwd(), safe="/") + "/" + relative
        return StorageSpec("rdb", spec)
    path = os.path.abspath(os.path.expanduser(spec))
    if path.endswith(".log"):
        return StorageSpec("journal", path)
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, DEFAULT_FILE)):
        path = os.path.join(path, DEFAULT_FILE)
    if is_sqlite_file(path):
        return StorageSpec("rdb", sqlite_url(path))
    if is_journal_file(path):
        return StorageSpec("journal", path)
    what = "holds no study" if os.path.exists(path) else "does not exist"
    raise StorageNotFoundError(
        f"storage {mask_url(spec)!r} is neither a database URL (sqlite:///path.db, postgresql://user@host/db) "
        f"nor a journal file path ending in .log, and as a path it {what} (an SQLite or journal file, or a sweep "
        f"dir holding {DEFAULT_FILE})"
    )


def normalise(spec: str) -> str:
    """The URL or journal path ``spec`` stands for (:func:`parse`)."""
    return parse(spec).location


@contextlib.contextmanager
def _schema_lock(db_file: str) -> Iterator[None]:
    """An exclusive lock on ``<db>.lock`` while Optuna creates (or checks) the schema of an SQLite file."""
    with open(db_file + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_storage(spec: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``spec`` (see the module's docstring), creating the SQLite or journal file's folder."""
    import optuna

    parsed = parse(spec)
    location = parsed.location
    if parsed.kind == "journal":
        os.makedirs(os.path.dirname(location) or ".", exist_ok=True)
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(location))
    engine_kwargs = None
    lock: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if location.startswith("sqlite:///") and location != "sqlite:///:memory:":
        db_file = sqlite_file(location)
        os.makedirs(os.path.dirname(db_file) or ".", exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        lock = _schema_lock(db_file)
    try:
        with lock:  # two sweeps creating one new file would both write the schema's version row
            return optuna.storages.RDBStorage(location, engine_kwargs=engine_kwargs)
    except ImportError as err:  # e.g. no psycopg (3) for postgresql://
        raise ConfigError(
            f"storage {mask_url(location)!r} needs a database driver that is not installed "
            f"({first_line(err)}); for PostgreSQL: pip install 'psycopg[binary]'"
        ) from None
    except Exception as err:  # SQLAlchemy's connection errors, bad URLs
        msg = mask_url_password_in(first_line(err), location)
        userinfo = urllib.parse.urlsplit(location).netloc.rpartition("@")[0]
        hint = "; percent-encode an '@' in the password as %40" if "@" in userinfo else ""
        raise ConfigError(f"cannot open storage {mask_url(location)!r}: {msg}{hint}") from None
