"""The Optuna sweeper (a Hydra Sweeper, ``hydra/sweeper=optuna``) and the job-side trial handle used for pruning.

Importing this package registers the config group option ``optuna/trial`` (the typed :class:`TrialConfig`),
which a job's ``+optuna=trial`` override selects before its ``optuna.*`` values are set: Hydra 1.3 cannot merge
a dict override into the schema's ``optuna: null`` node directly.
"""
from hydra.core.config_store import ConfigStore

from birsweep.schema import TrialConfig

TRIAL_GROUP = "optuna"
TRIAL_OPTION = "trial"

ConfigStore.instance().store(group=TRIAL_GROUP, name=TRIAL_OPTION, node=TrialConfig)
