"""The Optuna sweeper (a Hydra Sweeper, ``hydra/sweeper=optuna``) and the job-side trial handle used for pruning.

Grouped by question (docs/sweeps.md, Where the code is): :mod:`.search` (the ask/launch/tell loop and what it asks
with), :mod:`.alive` (is the other side alive: heartbeats, owners, recovery, claims), :mod:`.confirm` (the
confirmation stage), :mod:`.job` (the job's side: its trial handle, the trials of a batch); beside them the
settings (:mod:`.config`), the errors a sweep stops with and the parameter labels shared with ``analysis``.

Importing this package registers two configs in Hydra's ConfigStore (Hydra's plugin scan imports it through
``hydra_plugins.birsweep_optuna_sweeper``, so the sweep process and its jobs both have them):

* ``hydra/sweeper/base_optuna``, the typed sweeper settings (:class:`birsweep.sweep.config.OptunaSweeperConfig`)
  that ``conf/hydra/sweeper/optuna.yaml`` extends;
* ``optuna/trial`` (the typed :class:`TrialConfig`), which a job's ``+optuna=trial`` override selects before its
  ``optuna.*`` values are set: Hydra 1.3 cannot merge a dict override into the schema's ``optuna: null`` node;
* ``confirm/run`` (:class:`ConfirmRunConfig`), selected the same way by the confirmation stage's jobs.
"""

from hydra.core.config_store import ConfigStore

from birsweep.schema import ConfirmRunConfig, TrialConfig
from birsweep.sweep.config import GROUP, SCHEMA_NAME, OptunaSweeperConfig

TRIAL_GROUP = "optuna"
TRIAL_OPTION = "trial"
CONFIRM_GROUP = "confirm"
CONFIRM_OPTION = "run"

ConfigStore.instance().store(group=TRIAL_GROUP, name=TRIAL_OPTION, node=TrialConfig)
ConfigStore.instance().store(group=CONFIRM_GROUP, name=CONFIRM_OPTION, node=ConfirmRunConfig)
ConfigStore.instance().store(group=GROUP, name=SCHEMA_NAME, node=OptunaSweeperConfig)
