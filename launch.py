"""Entry point: ``python launch.py [overrides]`` runs one job; ``python launch.py -m ...`` a sweep.

Errors a user can act on (:class:`birsweep.errors.BirsweepError`) end here as one ``error: ...`` line on stderr:
exit code 2 for bad input, 1 when a sweep stopped because too many of its trials failed; a run stopped by a signal
(SIGTERM, SIGUSR2) exits with 128 + its number after recording itself as interrupted. Hydra's own errors about the
command line (an unknown group option, an unknown key, a value of the wrong type) are one line with exit code 2 as
well (birsweep/hydra_errors.py), unless HYDRA_FULL_ERROR=1 asks for Hydra's full report.
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from birsweep.errors import BirsweepError, RunInterrupted
from birsweep.hydra_errors import hydra_error_line
from birsweep.schema import register_configs
from birsweep.secrets import check_no_literal_passwords
from birsweep.sweep.errors import PassThroughHydra, SweepError

register_configs()
_job_started = False  # once a job has started, an error is not about the command line


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from birsweep.app import run

    global _job_started
    _job_started = True
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run(cfg)  # the sweeper records the failure of a job and goes on
    try:
        return run(cfg)
    except BirsweepError as err:
        raise PassThroughHydra(err) from err  # past Hydra's handler, which would print a traceback


def exit_code(err: BirsweepError) -> int:
    return 1 if isinstance(err, SweepError) else 2


def cli() -> int:
    global _job_started
    _job_started = False  # a command line of its own (tests call cli() again in one process)
    full_report = os.environ.get("HYDRA_FULL_ERROR") == "1"  # the user asked for Hydra's tracebacks
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors to us instead of printing them and exiting 1
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
    except Exception as err:
        line = None if full_report or _job_started else hydra_error_line(err)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2
    finally:
        if not full_report:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
