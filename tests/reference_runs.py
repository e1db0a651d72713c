"""The reference configurations whose numbers must not move when the code is reorganised.

Every variant, fine-tuning, split digits and one run per method, each a few seconds on one thread. Their
``acc_matrix`` and ``losses`` are pinned in ``tests/golden/reference_numbers.json`` and compared exactly by
``tests/test_reference_numbers.py``: a refactor that reorders a sum shows up there. After a deliberate change of
the numbers (a fix of the maths, a new default), regenerate the file and say why in the commit:

    python -m tests.reference_runs        # rewrites tests/golden/reference_numbers.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import torch

from tests.helpers import make_cfg

GOLDEN = Path(__file__).resolve().parent / "golden" / "reference_numbers.json"
_BASE = ["debug=tiny", "trainer.threads=1", "data.synthetic.n_classes=6", "data.n_tasks=3", "seed=3"]

CONFIGS: Dict[str, List[str]] = {
    "bir_si-baseline": [],
    "repulsion": ["variant=repulsion", "variant.repulsion.lamda_rep=0.5"],
    "repulsion-rep_f-kl": [
        "variant=repulsion",
        "variant.repulsion.lamda_rep=0.5",
        "variant.repulsion.divergence=kl",
        "variant.use_rep_f=true",
        "variant.rep_f=2.0",
    ],
    "recon": ["variant=recon"],
    "contrastive": ["variant=contrastive"],
    "bir_si-compile_step": ["trainer.compile=step"],
    "bir": ["method=bir"],
    "gr": ["method=gr"],
    "lwf": ["method=lwf"],
    "si": ["method=si"],
    "ewc": ["method=ewc"],
    "none": ["method=none"],
    "joint": ["method=joint"],
    "ablation-no_feedback": ["ablation=no_feedback"],
    "digits": ["data=digits", "data.n_tasks=5", "trainer.iters=20"],
}


def run_reference(name: str, root: Path) -> Dict[str, Any]:
    """Train one reference config in this process; its accuracy matrix and logged losses."""
    from birsweep.train.loop.run import train

    torch.set_num_threads(1)
    cfg = make_cfg(_BASE + CONFIGS[name])
    run_dir = root / name
    run_dir.mkdir(parents=True)
    train(cfg, str(run_dir))
    rec = json.loads((run_dir / "results.json").read_text())
    return {"acc_matrix": rec["acc_matrix"], "losses": rec["losses"]}


def main() -> None:
    names = sys.argv[1:] or list(CONFIGS)
    out = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out[name] = run_reference(name, Path(tmp))
            print(f"{name}: final row {out[name]['acc_matrix'][-1]}")
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
