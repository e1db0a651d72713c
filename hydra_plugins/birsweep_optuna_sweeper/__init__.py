"""birsweep's Optuna sweeper as a Hydra plugin (``hydra/sweeper=optuna``, conf/hydra/sweeper/optuna.yaml), and its
SLURM launcher (``hydra/launcher=slurm``, ``slurm_cpu``).

Hydra 1.3 instantiates a sweeper or launcher only if its class lives in the ``hydra_plugins`` namespace package and
was found by its plugin scan; this module puts the classes there. The code is in :mod:`birsweep.sweep.search.sweeper`
(and :mod:`birsweep.sweep.alive.slurm_launcher`). Importing it stores the sweeper's configs in Hydra's ConfigStore
(birsweep/sweep/__init__.py lists them): Hydra's scan imports it before anything is composed, in launch.py and with
the compose API; joblib and submitit jobs get the stored configs with the Hydra state they are sent.

The scan lists every Plugin subclass it finds among a module's names, so the base classes are reached through their
modules, not imported by name (it would be listed a second time by ``--info``).
"""

from typing import Any, List

from hydra.core.config_store import ConfigStore

from birsweep.errors import BirsweepError
from birsweep.schema import ConfirmRunConfig, TrialConfig
from birsweep.sweep import CONFIRM_GROUP, CONFIRM_OPTION, TRIAL_GROUP, TRIAL_OPTION
from birsweep.sweep.alive import slurm_launcher as _slurm
from birsweep.sweep.config import GROUP, SCHEMA_NAME, OptunaSweeperConfig
from birsweep.sweep.errors import PassThroughHydra
from birsweep.sweep.search import sweeper as _sweeper

ConfigStore.instance().store(group=TRIAL_GROUP, name=TRIAL_OPTION, node=TrialConfig)
ConfigStore.instance().store(group=CONFIRM_GROUP, name=CONFIRM_OPTION, node=ConfirmRunConfig)
ConfigStore.instance().store(group=GROUP, name=SCHEMA_NAME, node=OptunaSweeperConfig)


class OptunaSweeper(_sweeper.OptunaSweeper):
    """See :class:`birsweep.sweep.search.sweeper.OptunaSweeper`. Its errors go to ``launch.py`` past Hydra's handler."""

    def sweep(self, arguments: List[str]) -> Any:
        try:
            return super().sweep(arguments)
        except BirsweepError as err:
            raise PassThroughHydra(err) from err


class SlurmLauncher(_slurm.SlurmLauncher):
    """See :class:`birsweep.sweep.alive.slurm_launcher.SlurmLauncher` (``hydra/launcher=slurm``, ``slurm_cpu``)."""
