"""A study's identity: the fixed (non-searched) settings it was created with, kept as study user attributes.

A study name is a question ("which lamda_rep is best for 500 iterations on digits?"). Re-running that name with
other fixed settings would mix trials of two questions in one study, so the sweeper stops with one line naming
the differences instead. What counts is the job's resolved config less the searched keys, the result-neutral keys
(:mod:`birsweep.config_keys`: paths, loggers, the ``optuna`` and ``hydra`` nodes, ...) and plus the fixed override
strings of ``hydra.sweeper.params`` (those are applied per job, so the sweeper's config does not show them).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Iterable, List, Mapping

import optuna
from omegaconf import DictConfig, OmegaConf

from birsweep.config_keys import is_result_neutral
from birsweep.errors import ConfigError

DIGEST_ATTR = "fixed_settings_digest"
SETTINGS_ATTR = "fixed_settings"
FIXED_OVERRIDES = "<fixed sweep overrides>"  # the key the params' fixed override strings are kept under
SHOWN = 3  # differences named in the error line


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", out)
    else:
        out[prefix[:-1]] = list(value) if isinstance(value, tuple) else value


def fixed_settings(config: DictConfig, searched: Iterable[str], fixed_overrides: Iterable[str]) -> Dict[str, Any]:
    """Dotted key -> value of what every job of the study shares (JSON-able; unresolvable values as their text)."""
    searched = [s.lstrip("+~") for s in searched]
    flat: Dict[str, Any] = {}
    for key in config.keys():
        key = str(key)
        if is_result_neutral(key):
            continue
        try:
            value = (
                OmegaConf.to_container(config[key], resolve=True) if OmegaConf.is_config(config[key]) else config[key]
            )
        except Exception:  # an interpolation only a job can resolve: compare its text
            value = OmegaConf.to_container(config[key], resolve=False)
        _flatten({key: value}, "", flat)
    kept = {
        k: v
        for k, v in flat.items()
        if not is_result_neutral(k) and not any(k == s or k.startswith(s + ".") for s in searched)
    }
    overrides = sorted(fixed_overrides)
    if overrides:
        kept[FIXED_OVERRIDES] = overrides
    plain: Dict[str, Any] = json.loads(json.dumps(kept, sort_keys=True, default=str))  # as the storage keeps it
    return plain


def digest(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> List[str]:
    """``key: old -> new`` for every key whose value differs (``<unset>`` for a key one side lacks)."""
    unset = "<unset>"
    return [
        f"{k}: {old.get(k, unset)!r} -> {new.get(k, unset)!r}"
        for k in sorted(set(old) | set(new))
        if old.get(k, unset) != new.get(k, unset)
    ]


def check_identity(study: optuna.Study, settings: Dict[str, Any], storage_hint: str) -> None:
    """Remember ``settings`` in a new study (or an older one that has none yet); ConfigError if they differ from
    what the study was created with."""
    attrs = study.user_attrs
    if DIGEST_ATTR not in attrs:
        study.set_user_attr(SETTINGS_ATTR, settings)
        study.set_user_attr(DIGEST_ATTR, digest(settings))
        return
    if attrs[DIGEST_ATTR] == digest(settings):
        return
    diffs = differences(attrs.get(SETTINGS_ATTR) or {}, settings)
    shown = "; ".join(diffs[:SHOWN]) + (f" (+{len(diffs) - SHOWN} more)" if len(diffs) > SHOWN else "")
    raise ConfigError(
        f"study {study.study_name!r} was created with other fixed settings ({shown or 'digest differs'}): "
        f"start a new study with hydra.sweeper.study_name=<new name>, or delete {storage_hint} to start over"
    )
