"""One list of result-neutral config keys: resuming and comparison labels agree on every key of a real config."""

from __future__ import annotations

from typing import Any, Dict, List

import pandas as pd
import pytest
from omegaconf import OmegaConf

from analysis.compare import NOT_IN_LABELS, add_labels
from analysis.runs import flatten, run_row
from birsweep.config_keys import RESULT_NEUTRAL, is_result_neutral, without_neutral
from birsweep.errors import ResumeError
from birsweep.train.loop import checkpoint
from tests.helpers import make_cfg

# names the front of a label on purpose (demo vs demo-finetune), not as a setting in brackets
LABEL_PREFIX = "experiment_name"


@pytest.fixture(scope="module")
def config() -> Dict[str, Any]:
    return OmegaConf.to_container(make_cfg(["model=bir_conv"]), resolve=True)


def _changed(config: Dict[str, Any], key: str) -> Dict[str, Any]:
    """A copy of ``config`` with the dotted ``key`` set to another value of a similar kind."""
    out = OmegaConf.to_container(OmegaConf.create(config))
    *heads, last = key.split(".")
    node = out
    for head in heads:
        node = node[head]
    value = node[last]
    if isinstance(value, bool):
        node[last] = not value
    elif isinstance(value, int):
        node[last] = value + 1
    elif isinstance(value, float):
        node[last] = 2 * value + 1  # visible in a label's 3 significant digits
    elif isinstance(value, list):
        node[last] = value + [value[-1] if value else 1]
    else:
        node[last] = f"{value}-other"
    return out


def _labels(*configs: Dict[str, Any]) -> List[str]:
    rows = [run_row({"config": c, "run_dir": f"/runs/{i}", "status": "completed"}) for i, c in enumerate(configs)]
    return add_labels(pd.DataFrame(rows))["label"].tolist()


def _saved(tmp_path, config: Dict[str, Any]) -> None:
    """A checkpoint of ``config`` in ``tmp_path``, written once for the many loads of a test."""
    checkpoint.save(str(tmp_path), {"config": config})


def _resumes(tmp_path, now: Dict[str, Any]) -> bool:
    """Whether a run with config ``now`` resumes from the checkpoint in ``tmp_path`` (:func:`_saved`)."""
    try:
        checkpoint.load(str(tmp_path), now)
    except ResumeError:
        return False
    return True


def _keys(config: Dict[str, Any]) -> List[str]:
    # optuna's block reaches the comparison as trial columns, not as config columns
    return [k for k in flatten(config) if k.split(".")[0] != "optuna"]


def test_the_real_config_has_every_listed_group():
    keys = flatten(OmegaConf.to_container(make_cfg(), resolve=True))
    # hydra's own settings are not in the job's config, but W&B and study exports may carry them
    missing = [k for k in RESULT_NEUTRAL if k != "hydra" and not any(c == k or c.startswith(k + ".") for c in keys)]
    assert missing == [], "a listed key that no config has: renamed or removed?"


def test_result_neutral_keys_neither_block_resume_nor_split_labels(config, tmp_path):
    neutral = [k for k in _keys(config) if is_result_neutral(k)]
    assert "trainer.log_every" in neutral and "paths.cache_dir" in neutral
    _saved(tmp_path, config)
    for key in neutral:
        other = _changed(config, key)
        assert _resumes(tmp_path, other), key
        if key != LABEL_PREFIX:
            a, b = _labels(config, other)
            assert a == b, key


def test_every_other_setting_blocks_resume_and_splits_labels(config, tmp_path):
    settings = [k for k in _keys(config) if not is_result_neutral(k)]
    assert "model.si_c" in settings and "trainer.iters" in settings
    _saved(tmp_path, config)
    for key in settings:
        other = _changed(config, key)
        assert not _resumes(tmp_path, other), key
        a, b = _labels(config, other)
        assert (a == b) == (key in NOT_IN_LABELS - {"variant.name"}), key


def test_log_every_no_longer_splits_a_configuration():
    a, b = _labels(*(OmegaConf.to_container(make_cfg([f"trainer.log_every={n}"]), resolve=True) for n in (10, 50)))
    assert a == b and "log_every" not in a


def test_without_neutral_strips_groups_and_single_keys_at_any_depth():
    cfg = {"paths": {"cache_dir": "c"}, "trainer": {"log_every": 5, "iters": 3}, "model": {"si_c": 1.0}}
    assert without_neutral(cfg) == {"trainer": {"iters": 3}, "model": {"si_c": 1.0}}
