"""Entry point: ``python launch.py [overrides]`` runs one job; ``python launch.py -m ...`` a sweep."""
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from birsweep.errors import BirsweepError
from birsweep.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from birsweep.app import run

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return run(cfg)  # the sweeper records the failure of a job and goes on
    try:
        return run(cfg)
    except BirsweepError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
