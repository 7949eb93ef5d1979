"""Which values in a job are secret, and how they are hidden in everything shown.

Pure.  A value is sensitive when it sits under a task ``Env`` map, is a
template body (``EmbeddedTmpl``), is a legacy token field (``VaultToken``,
``ConsulToken``), or is stored under a user-chosen key that looks like a
secret (``password``, ``api_key``, ``token``, ...) anywhere in a user map
(``Meta``, ``Config``, ...).  Diffs are computed on the real values (a changed
secret is still drift); only what is *shown* (text, JSON, logs) is redacted,
unless the user passes ``--show-secrets``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

REDACTED = "<redacted>"

# Whole subtrees whose every value is secret.
_SECRET_SUBTREES = frozenset({"Env"})
# Struct fields whose value is secret wherever they appear.
_SECRET_FIELDS = frozenset({"EmbeddedTmpl", "VaultToken", "ConsulToken", "SecretID", "Payload"})
# User-chosen key names that look like credentials.  Over-redaction is safe;
# under-redaction leaks, so the pattern is deliberately broad.
_SECRET_KEY = re.compile(
    r"(token|passw|secret|credential|private|api[_.-]?key|access[_.-]?key|auth|(^|[_.-])key$|^key)",
    re.IGNORECASE,
)
# Maps whose keys are chosen by the user (so key names carry meaning).
_USER_MAPS = frozenset({"Meta", "Config", "Env", "GetterOptions", "GetterHeaders", "Header"})


def is_sensitive_path(path: Sequence[str]) -> bool:
    """True when the value at ``path`` (struct fields and map keys, outermost first) is secret."""
    in_user_map = False
    for i, part in enumerate(path):
        if part in _SECRET_SUBTREES and not in_user_map:
            return True
        if part in _SECRET_FIELDS and not in_user_map:
            return True
        if in_user_map and _SECRET_KEY.search(part):
            return True
        if part in _USER_MAPS and i < len(path) - 1:
            in_user_map = True
    return False


def redact_value(path: Sequence[str], value: Any, *, show_secrets: bool = False) -> Any:
    """``value`` as it may be shown: replaced by ``<redacted>`` when sensitive."""
    if show_secrets or value is None or not is_sensitive_path(path):
        return value
    return REDACTED


def redact_job(job: Any, *, show_secrets: bool = False, _path: tuple[str, ...] = ()) -> Any:
    """A copy of a job (or any JSON value in it) with every sensitive value replaced."""
    if show_secrets:
        return job
    if isinstance(job, dict):
        out: dict[str, Any] = {}
        for key, value in job.items():
            path = (*_path, str(key))
            if value is not None and not isinstance(value, dict | list) and is_sensitive_path(path):
                out[key] = REDACTED
            elif isinstance(value, dict) and value and is_sensitive_path((*path, "")):
                # A whole secret map (Env): keep keys, hide values.
                out[key] = {k: REDACTED for k in value}
            else:
                out[key] = redact_job(value, _path=path)
        return out
    if isinstance(job, list):
        return [redact_job(item, _path=_path) for item in job]
    return job
