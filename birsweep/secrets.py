"""Never log secrets: database URLs lose their password before they reach a record, a log line or W&B.

Masking is the last line of defence. A password given literally on the command line (or in a config file) would
be written by Hydra itself into ``multirun.yaml`` and every job's ``.hydra/*.yaml`` before birsweep could act, so
it is refused up front (:func:`check_no_literal_passwords`); the environment-variable form is the way to give one:
``hydra.sweeper.storage='${oc.env:STUDY_DB}'`` (docs/sweeps.md).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from birsweep.errors import ConfigError

# ``scheme://user:password@host``: the password runs to the last ``@`` of the URL, so ``@``, ``/`` and ``:`` in it
# are masked too (a URL ends at whitespace or a quote, as in error messages that quote it)
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s'\"]*:)(?P<password>[^\s'\"]+)(?=@[^@\s'\"]*(?:[\s'\"]|$))"
)
# ``?password=...``, ``&pass=...``, libpq's ``password=... host=...``
_QUERY_PASSWORD = re.compile(
    r"(?P<head>(?:^|[?&;\s])(?:password|passwd|pass|pwd|sslpassword)=)(?P<password>[^&;\s'\"#]+)", re.IGNORECASE
)
_SECRET_KEYS = ("password", "api_key", "apikey", "token", "secret")
ENV_FORM = "hydra.sweeper.storage='${oc.env:STUDY_DB}'"


def mask_url(text: str) -> str:
    """``postgresql://user:pw@host/db?password=pw`` -> ``postgresql://user:***@host/db?password=***``."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + "***", text)
    return _QUERY_PASSWORD.sub(lambda m: m.group("head") + "***", text)


def mask_url_password_in(text: str, url: str) -> str:
    """``text`` (a driver's error about ``url``) with ``url``'s password masked, and each piece of it: a driver
    splits an unencoded ``@`` in a password differently from :func:`mask_url` (``user:pa@ss@host`` is password
    ``pa``, host ``ss@host`` to SQLAlchemy), so its message may quote any part on its own ("failed to resolve host
    'ss@host'")."""
    passwords = [m.group("password") for m in _URL_PASSWORD.finditer(url)]
    passwords += [m.group("password") for m in _QUERY_PASSWORD.finditer(url)]
    pieces = {p for password in passwords for p in [password, *re.split(r"[@:/]", password)] if p}
    for piece in sorted(pieces, key=len, reverse=True):  # the whole before its parts
        text = text.replace(piece, "***")
    return mask_url(text)


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


def _is_literal(password: str) -> bool:
    return not password.startswith("${")  # an interpolation (${oc.env:PW}) is resolved only in memory


def literal_password(text: str) -> bool:
    """Whether ``text`` holds a password written out (a URL's ``user:pw@`` or a ``password=`` query)."""
    found = [m.group("password") for m in _URL_PASSWORD.finditer(text)]
    found += [m.group("password") for m in _QUERY_PASSWORD.finditer(text)]
    return any(_is_literal(p) for p in found)


def check_config_value(key: str, value: str) -> None:
    """ConfigError when a config file's ``key`` holds a literal password, with the environment-variable form."""
    if literal_password(value):
        raise ConfigError(
            f"the config key {key} holds a literal password ({mask_url(value)}): Hydra would write it into the "
            f"output dir's .hydra/ files; keep the value in an environment variable and write {key}: "
            "${oc.env:MY_URL} in the file (export MY_URL='...'; see docs/sweeps.md)"
        )


def check_no_literal_passwords(values: Iterable[str], where: str = "override") -> None:
    """ConfigError naming the first value that carries a literal password, and the environment-variable form."""
    for value in values:
        if literal_password(value):
            key: Optional[str] = value.split("=", 1)[0] if "=" in value.split("://", 1)[0] else None
            named = f"{where} {key}" if key else f"{where} {mask_url(value)!r}"
            raise ConfigError(
                f"{named} holds a literal password ({mask_url(value)}): Hydra would write it into multirun.yaml "
                f"and every job's .hydra/ files; put the URL in an environment variable and pass {ENV_FORM} "
                "(export STUDY_DB='postgresql://user:password@host/db'; see docs/sweeps.md)"
            )
