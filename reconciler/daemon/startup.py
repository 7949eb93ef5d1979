"""Start-up checks: configuration that can only be wrong stops the daemon with the reason.

A configuration error at start (token file, variables file, a namespace that
does not exist) ends ``daemon`` with status 1; Nomad being unreachable is
not one (it is retried).
"""

from __future__ import annotations

import logging

from reconciler.config.connection import NomadConfig
from reconciler.config.groups import DaemonSettings
from reconciler.errors import ConfigError, NomadError
from reconciler.nomad.client import NomadClient
from reconciler.sync.session import require_namespaces
from reconciler.token_file import TokenSource

log = logging.getLogger("reconciler.daemon")


def nomad_config(settings: DaemonSettings) -> NomadConfig:
    """The client config from resolved settings (precedence already applied)."""
    return settings.nomad


def check_startup_config(settings: DaemonSettings) -> None:
    """Fail fast on configuration that can only be wrong: raise ``ConfigError``.

    The token file and the ``--var-file`` files must be readable at start.  Later,
    a token file briefly missing mid-rotation keeps the last token (``TokenSource``),
    and Nomad being unreachable is retried: those are not configuration errors.
    """
    cfg = nomad_config(settings)
    TokenSource(token=cfg.token, token_file=cfg.token_file).current()
    for var_file in settings.source.var_files:
        try:
            with open(var_file, "rb"):
                pass
        except OSError as exc:
            raise ConfigError(f"variables file {var_file}: cannot read it ({exc.strerror})") from exc


async def require_namespace(client: NomadClient, settings: DaemonSettings) -> None:
    """The configured namespace exists: a mistyped one is a configuration error.

    Nomad unreachable at start cannot tell; then the jobs' own registrations
    will say it (``job ... is in nonexistent namespace``).
    """
    namespace = settings.nomad.namespace
    if not namespace:
        return
    try:
        await require_namespaces(client, [namespace], flag="--namespace (or NOMAD_NAMESPACE)")
    except NomadError as exc:
        log.warning("could not check that the namespace exists",
                    extra={"fields": {"namespace": namespace, "error": str(exc)}})

