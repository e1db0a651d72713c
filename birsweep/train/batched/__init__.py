"""K trials of a study trained as one batched computation (hydra.sweeper.trials_per_job)."""
