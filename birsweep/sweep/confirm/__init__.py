"""The confirmation stage (``hydra.sweeper.confirm``): its plan (arms and fresh seeds), its runs, the stage as the
sweeper drives it, and the summary of what it found (docs/sweeps.md, Confirmation)."""
