"""Is the other side alive? Heartbeats in the study storage and in claim files (one beating thread:
:class:`.beat.Beating`), owners of running trials, how a silence is judged, the recovery of trials a dead sweep
left RUNNING, claims on confirmation runs, and the SLURM launcher that watches its jobs."""
