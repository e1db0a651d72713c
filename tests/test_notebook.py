"""analysis/notebooks/results.ipynb runs end to end (nbclient) against small real sweeps; it is stored clean."""

from __future__ import annotations

import nbformat

import analysis
from tests.helpers import ROOT
from tests.test_analysis_fixtures import grid_sweep, optuna_sweep  # noqa: F401 - fixtures

NOTEBOOK = ROOT / "analysis" / "notebooks" / "results.ipynb"


def execute(sweep_dir, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("BIRSWEEP_SWEEP_DIR", str(sweep_dir))
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    return text, html, images


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_notebook_on_a_grid_sweep(grid_sweep, monkeypatch):
    text, html, images = execute(grid_sweep, monkeypatch)
    assert f"sweep: {grid_sweep}" in text
    assert "4 runs" in text and "'completed': 4" in text
    assert "final_avg_acc" in html and "repulsion" in html and "baseline" in html
    assert len(images) == 3  # metric bars, curves, matrices
    assert "no Optuna study in this sweep: best run" in text
    best = analysis.load_runs(grid_sweep)["final_avg_acc"].max()
    assert f"value {best}" in text


def test_notebook_on_an_optuna_sweep(optuna_sweep, monkeypatch):
    text, html, images = execute(optuna_sweep, monkeypatch)
    assert "study 'rep-test' (maximize)" in text
    trials = analysis.load_study(str(optuna_sweep))
    best = analysis.best_trial(None, trials)
    assert f"best: trial {best['trial_number']} value {best['trial_value']}" in text
    assert "params.variant.rep_f" in html and "trial_state" in html
    assert len(images) == 6  # + history, parallel coordinates, intermediate values
