"""Builds the extra loss terms the selected variant enables. Disabled terms are not built, so they cost nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from omegaconf import DictConfig

from birsweep.methods.term_registry import TermContext, term_config, term_specs
from birsweep.methods.terms import LossTerm

if TYPE_CHECKING:
    from birsweep.data.features import Inputs
    from birsweep.models.bir import BIRNet


def build_terms(variant: DictConfig, model: BIRNet, inputs: Inputs) -> List[LossTerm]:
    """The enabled terms of every registered section, in the registry's order (the step adds them in this order
    and the optimiser gets their parameter groups in it)."""
    context = TermContext(model, inputs, variant.use_rep_f, variant.rep_f)
    return [term for spec in term_specs() for term in spec.build(term_config(spec, variant), context)]
