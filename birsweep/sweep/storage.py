"""Where a study lives. One rule, the same as ``optuna-dashboard``'s:

* a string with ``://`` is a database URL for Optuna's RDBStorage: ``sqlite:////abs/path/optuna.db``,
  ``postgresql://user:password@host:5432/db`` (SQLAlchemy 2.1 drives it with psycopg 3: ``pip install -e '.[postgres]'``;
  ``postgresql+psycopg2://`` uses psycopg2), ...;
* a path ending in ``.log`` is a journal file (Optuna's ``JournalFileBackend``: appends only, locks with a
  symlink, safe on NFS where SQLite's locking is not);
* nothing (``null``) is the sweeper's default, a SQLite file ``optuna.db`` in the sweep dir.

Passwords never reach a log, a record or a file written by the sweeper: everything shown goes through
:func:`birsweep.secrets.mask_url`. Keep them out of the config too: ``storage: ${oc.env:STUDY_DB}``.
"""
from __future__ import annotations

import os
from typing import Optional

import optuna

from birsweep.errors import ConfigError, first_line
from birsweep.secrets import mask_url

DEFAULT_FILE = "optuna.db"
SQLITE_TIMEOUT_S = 60  # parallel trials write to one SQLite file: wait for its lock instead of failing


def default_storage(sweep_dir: str) -> str:
    return "sqlite:///" + os.path.join(os.path.abspath(sweep_dir), DEFAULT_FILE)


def kind(spec: str) -> str:
    """``rdb`` or ``journal``; ConfigError for anything else."""
    spec = str(spec).strip()
    if "://" in spec:
        return "rdb"
    if spec.endswith(".log"):
        return "journal"
    raise ConfigError(f"storage {mask_url(spec)!r} is neither a database URL (sqlite:///path.db, "
                      "postgresql://user@host/db) nor a journal file path ending in .log")


def normalise(spec: str) -> str:
    """Relative paths made absolute (jobs may run in another working directory or on another machine's mount)."""
    spec = str(spec).strip()
    if kind(spec) == "journal":
        return os.path.abspath(os.path.expanduser(spec))
    if spec.startswith("sqlite:///") and not spec.startswith("sqlite:////") and spec != "sqlite:///:memory:":
        return "sqlite:///" + os.path.abspath(spec[len("sqlite:///"):])
    return spec


def open_storage(spec: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``spec`` (see the module's docstring), creating the SQLite or journal file's folder."""
    spec = normalise(spec)
    if kind(spec) == "journal":
        os.makedirs(os.path.dirname(spec) or ".", exist_ok=True)
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(spec))
    engine_kwargs = None
    if spec.startswith("sqlite:///") and spec != "sqlite:///:memory:":
        os.makedirs(os.path.dirname(spec[len("sqlite:///"):]) or ".", exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    try:
        return optuna.storages.RDBStorage(spec, engine_kwargs=engine_kwargs)
    except ImportError as err:  # e.g. no psycopg (3) for postgresql://
        raise ConfigError(f"storage {mask_url(spec)!r} needs a database driver that is not installed "
                          f"({first_line(err)}); for PostgreSQL: pip install 'psycopg[binary]'") from None
    except Exception as err:  # SQLAlchemy's connection errors, bad URLs
        msg = mask_url(first_line(err))
        raise ConfigError(f"cannot open storage {mask_url(spec)!r}: {msg}") from None


def describe(spec: Optional[str]) -> str:
    return mask_url(str(spec)) if spec else "(default)"
