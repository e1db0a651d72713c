"""The search: the sweeper's ask/launch/tell loop (:mod:`.sweeper`) and what it asks with: Hydra's override grammar
as Optuna distributions, samplers and pruners, proposals the study does not hold yet, the study's storage and
identity, how jobs reach the launcher, how trials end, and the results files."""
