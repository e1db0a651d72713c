"""birsweep's Optuna sweeper as a Hydra plugin (``hydra/sweeper=optuna``, conf/hydra/sweeper/optuna.yaml), and its
SLURM launcher (``hydra/launcher=slurm``, ``slurm_cpu``).

Hydra 1.3 instantiates a sweeper or launcher only if its class lives in the ``hydra_plugins`` namespace package and
was found by its plugin scan; this module puts the classes there. The code is in :mod:`birsweep.sweep.search.sweeper`
(and :mod:`birsweep.sweep.alive.slurm_launcher`); importing it registers the sweeper's typed config
(``hydra/sweeper/base_optuna``) before Hydra composes the config.

The scan lists every Plugin subclass it finds among a module's names, so the base classes are reached through their
modules, not imported by name (it would be listed a second time by ``--info``).
"""

from typing import Any, List

from birsweep.errors import BirsweepError
from birsweep.sweep.alive import slurm_launcher as _slurm
from birsweep.sweep.errors import PassThroughHydra
from birsweep.sweep.search import sweeper as _sweeper


class OptunaSweeper(_sweeper.OptunaSweeper):
    """See :class:`birsweep.sweep.search.sweeper.OptunaSweeper`. Its errors go to ``launch.py`` past Hydra's handler."""

    def sweep(self, arguments: List[str]) -> Any:
        try:
            return super().sweep(arguments)
        except BirsweepError as err:
            raise PassThroughHydra(err) from err


class SlurmLauncher(_slurm.SlurmLauncher):
    """See :class:`birsweep.sweep.alive.slurm_launcher.SlurmLauncher` (``hydra/launcher=slurm``, ``slurm_cpu``)."""
