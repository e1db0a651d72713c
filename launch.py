"""Entry point: ``python launch.py [overrides]`` runs one job; ``python launch.py -m ...`` a sweep.

Errors a user can act on (:class:`birsweep.errors.BirsweepError`) end here as one ``error: ...`` line on stderr:
exit code 2 for bad input, 1 when a sweep stopped because too many of its trials failed; a run stopped by a signal
(SIGTERM, SIGUSR2) exits with 128 + its number after recording itself as interrupted.
"""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from birsweep.errors import BirsweepError, RunInterrupted
from birsweep.schema import register_configs
from birsweep.secrets import check_no_literal_passwords
from birsweep.sweep.errors import PassThroughHydra, SweepError

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from birsweep.app import run

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run(cfg)  # the sweeper records the failure of a job and goes on
    try:
        return run(cfg)
    except BirsweepError as err:
        raise PassThroughHydra(err) from err  # past Hydra's handler, which would print a traceback


def exit_code(err: BirsweepError) -> int:
    return 1 if isinstance(err, SweepError) else 2


def cli() -> int:
    try:
        check_no_literal_passwords(sys.argv[1:])  # before Hydra writes the overrides anywhere
        main()
    except BirsweepError as err:
        print(f"error: {err}", file=sys.stderr)
        return exit_code(err)
    except PassThroughHydra as carried:
        print(f"error: {carried.error}", file=sys.stderr)
        return exit_code(carried.error)
    except RunInterrupted as stop:
        print(f"error: run {stop}; run the same command again to resume from its last finished task", file=sys.stderr)
        return 128 + stop.signum
    return 0


if __name__ == "__main__":
    sys.exit(cli())
