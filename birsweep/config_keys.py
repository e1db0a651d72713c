"""The config keys that do not change the numbers a run produces.

One list for everything that asks "are these the same run?": resuming accepts a checkpoint whose config differs
only in these keys, and comparisons do not split runs into different configurations by them. A key names a
setting or a whole group (``paths`` covers ``paths.cache_dir``).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

RESULT_NEUTRAL: Tuple[str, ...] = (
    "resume",
    "experiment_name",  # where and under which name a run is kept
    "paths",
    "logger",
    "optuna",
    "confirm",  # which confirmation arm a run belongs to (its seed is `seed`)
    "hydra",  # output locations, loggers, the sweeper's bookkeeping
    "trainer.progress",
    "trainer.log_every",
    "trainer.eval_batch",  # what is shown, how often; evaluation chunks
    "trainer.device",
    "trainer.threads",  # where the numbers are computed
    "data.root",
    "data.download",  # where the data come from
    "diagnostics",  # measured after each task, never fed back into training
    "eval_gen",  # the generator evaluation after the last task
)


def is_result_neutral(key: str) -> bool:
    """True for a dotted config key that is, or lies under, one of RESULT_NEUTRAL."""
    return any(key == k or key.startswith(k + ".") for k in RESULT_NEUTRAL)


def without_neutral(config: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """A nested config container without its result-neutral keys (what two runs must share to be the same)."""
    return {
        k: (without_neutral(v, f"{prefix}{k}.") if isinstance(v, dict) else v)
        for k, v in config.items()
        if not is_result_neutral(f"{prefix}{k}")
    }
