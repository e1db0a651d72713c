"""The HTML comparison report: every section, figures embedded and written beside it, opens in a browser."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

import optuna
import pandas as pd
import pytest
from PIL import Image

import analysis
from analysis.report import build_report
from analysis.report import main as report_main
from analysis.report_study import best_run_dir
from tests.helpers import ROOT
from tests.test_analysis_fixtures import N_TASKS, grid_sweep, optuna_sweep  # noqa: F401 - fixtures

optuna.logging.set_verbosity(optuna.logging.WARNING)
SECTIONS = ("baseline", "variants", "curves", "matrices", "diagnostics", "runs", "studies")


class Page(HTMLParser):
    """Ids, images, headings and table cells of the report, and a check that every element is closed."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.ids, self.images, self.cells, self.h3, self.stack, self.errors = [], [], [], [], [], []
        self._in, self._text = None, ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag in ("td", "th", "h3"):
            self._in, self._text = tag, ""

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()
        if tag == self._in:
            (self.h3 if tag == "h3" else self.cells).append(self._text.strip())
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._text += data


def parse(path) -> Page:
    page = Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    page.close()
    assert not page.errors and not page.stack, (page.errors, page.stack)
    return page


def check_images(page: Page, info) -> None:
    """Every figure is an embedded PNG that decodes, identical to the PNG file written beside the report."""
    assert len(page.images) == len(info["figures"]) > 0
    for img, path in zip(page.images, info["figures"]):
        assert img["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(img["src"].split(",", 1)[1], validate=True)
        with open(path, "rb") as f:
            assert f.read() == png
        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 100


def check_in_browser(html_path: str, n_images: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium for the headless check (apt-get install chromium)")
    profile = tempfile.mkdtemp()
    try:
        out = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"file://{html_path}",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f'data-images-loaded="{n_images}/{n_images}"' in out.stdout
    console = [line for line in out.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console


def test_report_of_two_variants_and_two_seeds(grid_sweep, tmp_path):
    out = tmp_path / "rep" / "report.html"
    info = build_report([str(grid_sweep)], str(out))
    assert info["html"] == str(out) and info["runs"] == 4
    assert sorted(info["labels"]) == ["baseline", "repulsion"]
    page = parse(out)
    for section in SECTIONS:
        assert section in page.ids
    assert page.ids.index("baseline") < page.ids.index("variants"), "the baseline question comes first"
    # figures: Δ to the baseline, metrics, curves with error bands, matrices, diagnostics; written beside the report
    assert sorted(os.path.basename(f) for f in info["figures"]) == [
        "acc-matrices.png",
        "avg-acc-per-task.png",
        "baseline-delta-0.png",
        "diagnostics-groups.png",
        "diagnostics-pair-rate.png",
        "variants-metrics.png",
    ]
    assert all(os.path.dirname(f) == str(tmp_path / "rep" / "report_figures") for f in info["figures"])
    check_images(page, info)
    # the variants table: mean ± s.e.m. over the two seeds, in %
    table = analysis.compare(analysis.add_labels(analysis.load_runs(grid_sweep))).set_index("label")
    for label in ("baseline", "repulsion"):
        row = table.loc[label]
        expected = f"{100 * row['final_avg_acc_mean']:.2f} ± {100 * row['final_avg_acc_sem']:.2f}"
        i = page.cells.index(label, page.cells.index("runs (completed/all)"))  # in the variants table
        assert expected in page.cells[i : i + 8] and "2/2" in page.cells[i : i + 8] and "0,1" in page.cells[i : i + 8]
    with open(out, encoding="utf-8") as f:
        text = f.read()
    assert "No Optuna study found" in text
    assert "http://" not in text and "https://" not in text  # self-contained: nothing to fetch
    check_in_browser(str(out), len(info["figures"]))


def _study(db, values):
    study = optuna.create_study(study_name="hand-made", storage=f"sqlite:///{db}", direction="maximize")
    for value in values:
        trial = study.ask(
            {
                "variant.rep_f": optuna.distributions.FloatDistribution(1, 50),
                "variant.repulsion.lamda_rep": optuna.distributions.FloatDistribution(1e-8, 1, log=True),
            }
        )
        for step in range(1, N_TASKS):
            trial.report(1.0 - 0.2 * step, step)
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            trial.report(value, N_TASKS)
            study.tell(trial, value)
    return study


def test_report_study_sections_from_the_command_line(grid_sweep, tmp_path, capsys):
    db = tmp_path / "study.db"
    study = _study(db, [0.41, 0.52, None, 0.47, 0.38, 0.55])
    out = tmp_path / "cli" / "r.html"
    # the command line's main, in this process (the module run as a process: test_report_errors_are_one_line)
    args = [str(grid_sweep), "-o", str(out), "--title", "Grid <and> study", "--study", f"{db}::hand-made"]
    assert report_main(args) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "1 studies" in printed
    page = parse(out)
    assert "study-hand-made" in page.ids
    names = sorted(os.listdir(tmp_path / "cli" / "r_figures"))
    assert names == sorted(
        [
            "acc-matrices.png",
            "avg-acc-per-task.png",
            "baseline-delta-0.png",
            "variants-metrics.png",
            "diagnostics-groups.png",
            "diagnostics-pair-rate.png",
            "study-hand-made-history.png",
            "study-hand-made-importance.png",
            "study-hand-made-parallel.png",
            "study-hand-made-intermediate.png",
        ]
    )
    assert len(page.images) == len(names)
    with open(out, encoding="utf-8") as f:
        text = f.read()
    assert "<title>Grid &lt;and&gt; study</title>" in text
    best = study.best_trial
    assert f"Best trial: #{best.number} with objective {100 * best.value:.2f}%" in text
    i = page.cells.index("rep_f")  # short names
    assert page.cells[i + 1] == f"{best.params['variant.rep_f']:.4g}"
    assert "6 trials: 5 complete, 1 pruned" in text


def test_report_errors_are_one_line(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "analysis.report", str(tmp_path), "-o", str(tmp_path / "x.html")],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stderr.startswith("error: no run records") and "Traceback" not in run.stderr


def test_report_of_an_optuna_sweep(optuna_sweep, grid_sweep, tmp_path):
    out = tmp_path / "study.html"
    info = build_report([str(optuna_sweep), str(grid_sweep)], str(out))
    assert info["studies"] == [(f"sqlite:///{optuna_sweep / 'optuna.db'}", "rep-test")]
    page = parse(out)
    assert "study-rep-test" in page.ids and "Study rep-test" in page.h3
    assert {os.path.basename(f) for f in info["figures"]} >= {
        "study-rep-test-history.png",
        "study-rep-test-parallel.png",
        "study-rep-test-intermediate.png",
    }
    check_images(page, info)
    with open(out, encoding="utf-8") as f:
        text = f.read()
    assert re.search(r"Best trial: #\d+ with objective", text)
    # 3 trials: too few for importances, and the report says so
    assert re.search(r"Parameter importance not shown: [0-3] complete trials?; importances need at least 5\.", text)
    assert "study-rep-test-importance.png" not in {os.path.basename(f) for f in info["figures"]}
    # parameters by short name in the tables, never the dotted override key
    assert "lamda_rep" in page.cells and "variant.repulsion.lamda_rep" not in text
    check_in_browser(str(out), len(info["figures"]))


def test_the_best_trial_of_a_copied_sweep_names_the_copy_s_run_dir(optuna_sweep, tmp_path):
    """Its records name the dirs they were written to; the report points at the one the best trial lies in now,
    as its runs table does."""
    copy = tmp_path / "elsewhere" / "sweep"
    shutil.copytree(optuna_sweep, copy)
    out = tmp_path / "copy.html"
    build_report([str(copy)], str(out))
    with open(out, encoding="utf-8") as f:
        text = f.read()
    best = optuna.load_study(study_name="rep-test", storage=f"sqlite:///{copy / 'optuna.db'}").best_trial
    assert f"Best trial: #{best.number} with objective {100 * best.value:.2f}% (run dir sweep/{best.number})" in text
    assert str(optuna_sweep) not in text


def test_the_best_trial_s_run_dir_is_the_written_one_when_two_runs_claim_it():
    runs = pd.DataFrame(
        {"study_name": ["s", "s", "t"], "trial_number": [3, 3, 3], "run_dir": ["/a/copy1/3", "/b/copy2/3", "/c/3"]}
    )
    assert best_run_dir(runs, "t", 3, "/old/3") == "/c/3"  # one run claims it: where it lies now
    assert best_run_dir(runs, "s", 3, "/old/3") == "/old/3"  # two: ambiguous, the study's own word
    assert best_run_dir(runs, "s", 3, "/b/copy2/3") == "/b/copy2/3"  # the written dir is among them
    assert best_run_dir(runs, "u", 0, None) == "" and best_run_dir(pd.DataFrame(), "s", 3, "/old/3") == "/old/3"
