"""birsweep's Optuna sweeper as a Hydra plugin (``hydra/sweeper=optuna``, conf/hydra/sweeper/optuna.yaml).

Hydra 1.3 instantiates a sweeper only if its class lives in the ``hydra_plugins`` namespace package and was found
by its plugin scan; this module puts the class there. The code is in :mod:`birsweep.sweep.sweeper`.
"""
from birsweep.sweep.sweeper import OptunaSweeper as _OptunaSweeper


class OptunaSweeper(_OptunaSweeper):
    """See :class:`birsweep.sweep.sweeper.OptunaSweeper`."""
