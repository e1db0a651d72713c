"""The variant terms' own random numbers (docs/variants.md, Randomness of the terms).

A term's random choices (today: the competitor's random representative) come from a generator of the run's own,
seeded from the run seed and drawn by the step before anything is computed, one fixed draw per step with replay.
So the global RNG (batches, replay, latent noise) follows exactly the baseline's stream: a term that never fires
leaves a run bit-identical to the baseline with the same seed, and the compiled or vmapped step takes the draws as
plain inputs. Checkpoints keep the generator's state, so a resumed run draws what the run without a stop draws.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import torch

from birsweep.methods.terms import LossTerm

_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constant: the terms' stream must not be the global RNG's own (same seed)


def noise_seed(seed: int) -> int:
    """The seed of a run's term generator: the run seed, mixed so its stream differs from the global RNG's."""
    return (int(seed) * _MIX + 0x5EED) % (1 << 63)


class TermNoise:
    """A run's private generator for its variant terms, on the model's device."""

    def __init__(self, seed: int, device: torch.device):
        self.device = device
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(noise_seed(seed))

    def keys(self, n: int) -> torch.Tensor:
        """``n`` uniform keys in [0, 1), one per replayed sample (the largest key picks a class's representative)."""
        return torch.rand(n, device=self.device, generator=self.gen)

    def state_dict(self) -> Dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.gen.set_state(state["generator"])


def noise_for(terms: Sequence[LossTerm], seed: int, device: torch.device) -> Optional[TermNoise]:
    """The generator, when one of ``terms`` draws random keys; else None (nothing is drawn)."""
    return TermNoise(seed, device) if any(t.needs_keys for t in terms) else None


def noise_state(step: Any) -> Optional[Dict[str, Any]]:
    """For the checkpoint: the step's term generator state, or None (no such terms, or a classifier step)."""
    noise = getattr(step, "noise", None)
    return noise.state_dict() if isinstance(noise, TermNoise) else None


def load_noise_state(step: Any, state: Optional[Dict[str, Any]]) -> None:
    noise = getattr(step, "noise", None)
    if isinstance(noise, TermNoise) and state is not None:
        noise.load_state_dict(state)
