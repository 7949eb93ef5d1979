"""Readiness and Nomad's reachability, as the daemon's work finds them.

Readiness turns false while Nomad is unreachable (logged once per outage,
not once per failed request) and until the first full pass is done.  When
Nomad is back, work may have piled up in backoff: a full pass follows (but a
flapping connection must not turn into back-to-back full passes).
"""

from __future__ import annotations

import logging
import time

from reconciler.daemon.due import ALL, Reason, Submit
from reconciler.errors import NomadUnavailableError

log = logging.getLogger("reconciler.daemon")

RECOVERY_RESYNC_MIN_S = 5.0  # at most one "Nomad is back" full pass per this many seconds


class NomadHealth:
    def __init__(self, submit: Submit) -> None:
        self._submit = submit
        self._ok: bool | None = None
        self._error = ""
        self._recovery_resync_at = -RECOVERY_RESYNC_MIN_S
        self.first_pass_done = False  # set by the worker

    def readiness(self) -> tuple[bool, str]:
        if not self.first_pass_done:
            return False, "first full pass not done yet"
        if self._ok is False:
            return False, f"Nomad unreachable: {self._error}"
        return True, "ready"

    def ok(self) -> None:
        """Nomad answered."""
        if self._ok is False:
            now = time.monotonic()
            if now - self._recovery_resync_at >= RECOVERY_RESYNC_MIN_S:
                self._recovery_resync_at = now
                log.info("Nomad reachable again; full resync")
                self._submit([ALL], Reason.RESYNC, urgent=True)
            else:
                log.info("Nomad reachable again")
        self._ok = True
        self._error = ""

    def error(self, exc: BaseException) -> None:
        """A request failed: only Nomad being unavailable changes readiness."""
        if isinstance(exc, NomadUnavailableError):
            if self._ok is not False:
                log.warning("Nomad unavailable", extra={"fields": {"error": str(exc)}})
            self._ok = False
            self._error = str(exc)
