"""Reorganising the code keeps the numbers: each reference config's accuracy matrix and logged losses (as the
record stores them) equal the pinned ones exactly (tests/reference_runs.py: how to re-pin after a deliberate
change)."""

from __future__ import annotations

import json

import pytest

from tests.reference_runs import CONFIGS, GOLDEN, run_reference

PINNED = json.loads(GOLDEN.read_text())


# bir_si-compile_step's pinned numbers are checked by test_whole_step.py (through launch.py's command line), where
# the other inductor tests share the compiler's start-up in one process
@pytest.mark.slow  # 14 runs, about 2 minutes in all
@pytest.mark.parametrize("name", sorted(set(CONFIGS) - {"bir_si-compile_step"}))
def test_reference_config_gives_the_pinned_numbers(name, tmp_path):
    got = run_reference(name, tmp_path)
    want = PINNED[name]
    assert got["acc_matrix"] == want["acc_matrix"]
    assert len(got["losses"]) == len(want["losses"])
    for row_got, row_want in zip(got["losses"], want["losses"]):  # one row per logging interval
        assert row_got == row_want, (row_got, row_want)
