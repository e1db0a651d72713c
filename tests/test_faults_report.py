"""``python -m analysis.report`` over a sweep with bad records among good ones: the report is written and each bad
file is named in a warning (docs/analysis.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, TINY, cli


@pytest.mark.slow  # a sweep and a report process: about 10 s (make test-all)
def test_report_skips_bad_records_and_names_each(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    short = ["trainer.max_tasks=2", "trainer.iters=10"]  # complete records are all the report needs
    out = cli(*TINY, *short, "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path, multirun=True)  # in-process
    assert out.returncode == 0, out.stderr[-2000:]
    for job in ("0", "1"):
        assert (sweep / job / "results.json").is_file()
    # two more jobs: one record cut off mid-write, one that is valid JSON but a list
    shutil.copytree(sweep / "0", sweep / "2")
    shutil.copytree(sweep / "1", sweep / "3")
    truncated, listed = sweep / "2" / "results.json", sweep / "3" / "results.json"
    truncated.write_text(truncated.read_text()[:150])
    listed.write_text("[1, 2, 3]\n")
    html = tmp_path / "report.html"
    rep = subprocess.run(
        [sys.executable, "-m", "analysis.report", str(sweep), "-o", str(html)],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rep.returncode == 0, rep.stderr[-3000:]
    assert html.is_file() and "(2 runs" in rep.stdout, rep.stdout
    assert str(truncated) in rep.stderr and str(listed) in rep.stderr, rep.stderr
    assert "Traceback" not in rep.stderr
