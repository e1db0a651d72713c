"""Never log secrets: database URLs lose their password before they reach a record or W&B."""

from __future__ import annotations

import re
from typing import Any

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)(?P<password>[^@\s/]+)(?=@)")
_SECRET_KEYS = ("password", "api_key", "apikey", "token", "secret")


def mask_url(text: str) -> str:
    """``postgresql://user:pw@host/db`` -> ``postgresql://user:***@host/db``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***", text)


def mask_secrets(obj: Any) -> Any:
    """Copy of a config container with URL passwords and secret-named values masked."""
    if isinstance(obj, dict):
        return {
            k: ("***" if any(s in str(k).lower() for s in _SECRET_KEYS) and v else mask_secrets(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [mask_secrets(v) for v in obj]
    if isinstance(obj, str):
        return mask_url(obj)
    return obj
