"""Hydra's own errors about the command line as one ``error:`` line (``launch.py``, exit code 2).

Hydra reports an unknown group option (``variant=foo``), an unknown key (``trainer.lrr=0.1``) or a value of the
wrong type (``trainer.iters=abc``) in 7 to 13 lines (the options one per line, the config search path, a hint about
HYDRA_FULL_ERROR) and exits with 1. ``launch.py`` asks Hydra to raise them instead and turns each into one line
that names the key, and, where a close one exists, the nearest valid choice. These errors come before a job starts,
so nothing (output dir, record) has been written.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, List, Optional

from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from birsweep.errors import NO_SPACE

# what a failed conversion in OmegaConf's message ("... could not be converted to Integer") asks for
WANTED = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def unknown_key_line(key: str, nearest: Optional[str]) -> str:
    """The line for a key the config does not have (also config_check's, for keys added with ``+``)."""
    hint = f"did you mean {nearest}? " if nearest else ""
    return f"{key} is not a config key: {hint}check its spelling (`--cfg job` lists the keys)"


def _nearest(word: str, choices: List[str]) -> Optional[str]:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _joined(text: str) -> str:
    """A multi-line Hydra message as one line, without the config search path it appends."""
    text = text.split("Config search path:")[0]
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _missing_option(err: MissingConfigException) -> str:
    wanted = err.missing_cfg_file or ""
    group, _, name = wanted.rpartition("/")
    if not group or not err.options:
        return _joined(str(err))
    options = sorted(str(o) for o in err.options)
    near = _nearest(name, options)
    hint = f"did you mean {group}={near}? " if near else ""
    return f"{group}={name}: no such option in config group '{group}'; {hint}choose one of {', '.join(options)}"


def _dotted_keys(node: DictConfig, prefix: str = "") -> List[str]:
    keys: List[str] = []
    for key in node.keys():
        path = f"{prefix}{key!s}"
        keys.append(path)
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            keys += _dotted_keys(child, path + ".")
    return keys


def _unknown_key(cause: OmegaConfBaseException) -> str:
    key = str(cause.full_key or cause.key)
    parent = cause.parent_node
    near = None
    if isinstance(parent, DictConfig):
        prefix = key.rpartition(".")[0]
        siblings = [str(k) for k in parent.keys()]
        leaf = _nearest(str(cause.key), siblings)
        near = f"{prefix}.{leaf}" if leaf and prefix else leaf
        if near is None:  # a key in the wrong section: look through the whole config
            root = parent._get_root()
            if isinstance(root, DictConfig):
                near = _nearest(key, [k for k in _dotted_keys(root) if not k.startswith("hydra.")])
    return unknown_key_line(key, near)


def _shown(value: Any) -> str:
    """A value as it is written on the command line (YAML): null, true, 0.1."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def _wrong_value(cause: ValidationError) -> str:
    key = str(cause.full_key or cause.key)
    reason = str(cause.msg).splitlines()[0].strip() if cause.msg else _joined(str(cause))
    if reason.endswith("is not Optional"):
        reason = "the key cannot be null"
    converted = re.search(r"could not be converted to (\w+)", reason)
    want = f"; give {WANTED[converted.group(1)]}" if converted and converted.group(1) in WANTED else ""
    now = ""
    parent = cause.parent_node
    if isinstance(parent, DictConfig) and cause.key is not None:
        try:
            current = parent._get_node(cause.key)
            value = None if current is None else current._value()
        except Exception:  # noqa: BLE001 - an interpolation that does not resolve: no example then
            value = None
        if isinstance(value, (int, float, str, bool)):
            now = f" (now {key}={_shown(value)})"
    return f"{key}={_shown(cause.value)}: {reason}{want}{now}"


def hydra_error_line(err: BaseException) -> Optional[str]:
    """One line for an error Hydra raised about the command line or the config (None for any other error)."""
    if isinstance(err, MissingConfigException):
        return _missing_option(err)
    if isinstance(err, OverrideParseException):
        return f"cannot parse an override: {_joined(str(err))}"
    if isinstance(err, ConfigCompositionException):
        cause = err.__cause__
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            return _unknown_key(cause)
        if isinstance(cause, ValidationError):
            return _wrong_value(cause)
        return _joined(str(err))
    if isinstance(err, (HydraException, OmegaConfBaseException)):
        return _joined(str(err))
    if isinstance(err, OSError) and err.errno in NO_SPACE:  # Hydra writing .hydra/ or the log onto a full disk
        where = f" {err.filename}" if err.filename else ""
        return f"cannot write{where}: {err.strerror}; free space there or choose another hydra.run.dir"
    return None
