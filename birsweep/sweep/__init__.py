"""The Optuna sweeper (a Hydra Sweeper, ``hydra/sweeper=optuna``) and the job-side trial handle used for pruning.

Grouped by question (docs/sweeps.md, Where the code is): :mod:`.search` (the ask/launch/tell loop and what it asks
with), :mod:`.alive` (is the other side alive: heartbeats, owners, recovery, claims), :mod:`.confirm` (the
confirmation stage), :mod:`.job` (the job's side: its trial handle, the trials of a batch); beside them the
settings (:mod:`.config`), the errors a sweep stops with and the parameter labels shared with ``analysis``.

Its configs are stored in Hydra's ConfigStore by the plugin module that Hydra's plugin scan imports in every Hydra
process (``hydra_plugins.birsweep_optuna_sweeper``), not by this package: ``analysis`` reads its labels without
importing the schema and torch.

* ``hydra/sweeper/base_optuna``, the typed sweeper settings (:class:`birsweep.sweep.config.OptunaSweeperConfig`)
  that ``conf/hydra/sweeper/optuna.yaml`` extends;
* ``optuna/trial`` (the typed :class:`birsweep.schema.TrialConfig`), which a job's ``+optuna=trial`` override
  selects before its ``optuna.*`` values are set: Hydra 1.3 cannot merge a dict override into the schema's
  ``optuna: null`` node;
* ``confirm/run`` (:class:`birsweep.schema.ConfirmRunConfig`), selected the same way by the confirmation stage's jobs.
"""

TRIAL_GROUP = "optuna"
TRIAL_OPTION = "trial"
CONFIRM_GROUP = "confirm"
CONFIRM_OPTION = "run"
