"""One place that turns a missing dataset into either a download or one clear error."""

from __future__ import annotations

from typing import Callable

from birsweep.errors import DataNotFoundError, first_line


def fetch_or_explain(what: str, expected: str, url: str, download: bool, fetch: Callable[[], object]) -> None:
    """Run ``fetch`` (a torchvision download) or raise DataNotFoundError naming the path and the download."""
    hint = (
        f"download it on a machine with internet from {url} (or run once there with data.download=true) "
        f"and place it at {expected}, or point data.root at a folder that holds it"
    )
    if not download:
        raise DataNotFoundError(f"{what} not found at {expected} and data.download=false: {hint}")
    try:
        fetch()
    except Exception as err:  # torchvision raises URLError, RuntimeError, OSError... when offline
        raise DataNotFoundError(
            f"{what} not found at {expected} and the download failed ({first_line(err)}): {hint}"
        ) from None
