"""Starting a W&B run without a stall or a leak: bounded by ``logger.init_timeout``, offline when no server
answers, no password in the command line W&B stores (docs/usage.md, Results)."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, Callable, Iterator, Literal, Tuple

from birsweep.errors import first_line
from birsweep.secrets import mask_url

log = logging.getLogger(__name__)


@contextlib.contextmanager
def masked_argv() -> Iterator[None]:
    """W&B stores the command line in the run file (uploaded by ``wandb sync``): let it see no password."""
    saved = sys.argv
    sys.argv = [saved[0], *(mask_url(a) for a in saved[1:])] if saved else saved
    try:
        yield
    finally:
        sys.argv = saved


Mode = Literal["offline", "online", "disabled"]  # logger.mode


def start_run(init: Callable[[Mode, Any], Any], mode: Mode, timeout: float, silent: bool) -> Tuple[Any, Mode]:
    """``init(mode, settings)`` -> the run and the mode it runs in: an online start that fails (no network, a
    timeout, a refused connection) warns once and starts offline."""
    import wandb

    settings = wandb.Settings(init_timeout=timeout, silent=silent)
    with masked_argv():
        try:
            return init(mode, settings), mode
        except Exception as err:  # noqa: BLE001 - whatever the online start raised, offline needs no server
            if mode != "online":
                raise
            log.warning(
                "W&B online init failed within logger.init_timeout=%gs (%s: %s): this run is logged offline; "
                "upload it later with wandb sync",
                timeout,
                type(err).__name__,
                mask_url(first_line(err)),
            )
            return init("offline", settings), "offline"
