"""The variant terms of a batched job (docs/sweeps.md, Many trials per job): the first trial's term objects with
each trial's searched values (``LossTerm.per_trial``) put in as [K] tensors under ``vmap``, each trial's random
keys drawn from its own term generator, and each term's participation summed per trial for its record."""

from __future__ import annotations

import copy
from typing import Dict, List, Sequence

import torch
from omegaconf import DictConfig, OmegaConf

from birsweep.methods.term_registry import term_specs
from birsweep.methods.terms import LossTerm


def unbatched_terms(cfg: DictConfig) -> List[str]:
    """The switched-on term sections the batched step does not run (``TermSpec.batched``; contrastive is not: kornia
    views of the current images per trial); their trials then run one after another."""
    return [label for spec in term_specs() if not spec.batched for label in spec.switched_on(cfg.variant[spec.name])]


class BatchedTerms:
    """The terms of K trials: one set of term objects, per-trial values, per-trial participation sums."""

    def __init__(self, terms: Sequence[LossTerm], cfgs: Sequence[DictConfig], device: torch.device):
        self.terms = list(terms)
        self.needs_keys = any(t.needs_keys for t in self.terms)
        keys = sorted({key for t in self.terms for key in t.per_trial.values()})  # rep_f: one tensor for all terms
        self.values: Dict[str, torch.Tensor] = {
            key: torch.tensor([float(OmegaConf.select(c, key)) for c in cfgs], device=device) for key in keys
        }
        self.counts = {t.name: torch.zeros(len(cfgs), dtype=torch.long, device=device) for t in self.terms}

    @property
    def names(self) -> List[str]:
        return [t.name for t in self.terms]

    def keep(self, rows: torch.Tensor) -> None:
        self.values = {k: v[rows] for k, v in self.values.items()}
        self.counts = {k: v[rows] for k, v in self.counts.items()}

    def for_trial(self, values: Dict[str, torch.Tensor]) -> List[LossTerm]:
        """Inside ``vmap``, one trial's terms: shallow copies whose searched attributes are that trial's values."""
        out: List[LossTerm] = []
        for term in self.terms:
            mine = copy.copy(term)
            for attr, key in term.per_trial.items():
                setattr(mine, attr, values[key])
            out.append(mine)
        return out

    def add_counts(self, logs: Dict[str, torch.Tensor]) -> None:
        """One step's participating samples per trial (``<name>_n``, [K]), summed on the device."""
        for name, total in self.counts.items():
            count = logs.get(name + "_n")
            if count is not None:
                total += count.detach().to(torch.long)

    def take_counts(self) -> List[Dict[str, int]]:
        """Per trial, the task's participation totals (one host read), and start the next task from 0."""
        if not self.terms:
            return []
        table = torch.stack([self.counts[n] for n in self.names], 1).tolist()
        self.counts = {n: torch.zeros_like(v) for n, v in self.counts.items()}
        return [dict(zip(self.names, (int(v) for v in row))) for row in table]
