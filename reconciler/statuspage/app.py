"""The status page: a ``DaemonObserver`` that serves read-only pages and JSON on ``--listen``.

``StatusPage`` hears the daemon (on its loop thread, without waiting): it notes
what changed and wakes open pages (``ChangeFeed``).  Once the HTTP server
starts it serves ``web.StatusApp``: the routes, access control and security
headers; ``picture`` gets the documents ``status --json`` and ``plan --json``
print, with the daemon's Nomad client on the daemon's event loop.

It must never write to Nomad (no write endpoint, a dry-run plan only), never
show a secret (documents are redacted as the CLI redacts them; log lines are
scrubbed), and never block the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.config.groups import DaemonSettings
from reconciler.config.values import parse_listen_address
from reconciler.daemon.hooks import DaemonObserver, DaemonState
from reconciler.deployment import Deployment
from reconciler.model import JobKey, Revision
from reconciler.observability.server import WebApp
from reconciler.secrets import scrub
from reconciler.statuspage.auth import Access, read_access
from reconciler.statuspage.deployment_views import steps_reached
from reconciler.statuspage.feed import ChangeFeed, JobHistory, JobLogBuffer
from reconciler.statuspage.web import StatusApp
from reconciler.sync.outcome import Result as SyncResult

log = logging.getLogger("reconciler.statuspage")

ALL: JobKey = ("*", "*")


class StatusPage(DaemonObserver):
    """Observes the daemon and, once the HTTP server starts, serves the pages."""

    def __init__(self, settings: DaemonSettings, *, access: Access | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.settings = settings
        self.access = access if access is not None else read_access(settings)
        self.clock = clock
        self.feed = ChangeFeed()
        self.history = JobHistory(clock=clock)
        self.logs = JobLogBuffer(scrub)
        self.stream_connected: bool | None = False if settings.process.event_stream else None
        self.last_pass_at: float | None = None
        self.daemon: DaemonState | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # What open pages last heard per job: a re-check that changed nothing wakes nobody
        # (each wake-up re-reads every job from Nomad).
        self._seen_states: dict[JobKey, Any] = {}
        self._seen_deployments: dict[JobKey, tuple[Any, ...]] = {}

    # -- the observer calls (daemon loop thread) -------------------------------------

    def http_app(self, daemon: DaemonState) -> WebApp | None:
        self.daemon = daemon
        self.loop = asyncio.get_running_loop()
        host, port = parse_listen_address(self.settings.process.listen)
        if not self.access.required and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "the status page and its JSON API are served without authentication on a "
                "non-loopback address; set ui_token_file or ui_basic_auth_file to require it",
                extra={"fields": {"listen": f"{host}:{port}"}},
            )  # fmt: skip
        self.logs.on_line = lambda key: None
        logging.getLogger("reconciler").addHandler(self.logs)
        return StatusApp(self)

    def outcomes_recorded(self, outcomes: Sequence[Any]) -> None:
        revision = self.daemon.revision if self.daemon is not None else None
        for out in outcomes:
            if out.result in (SyncResult.CREATED, SyncResult.UPDATED):
                self.history.registered(out.key, commit=revision.commit if revision else None)
        self.feed.publish([o.key for o in outcomes])

    def deployment_observed(self, key: JobKey, deployment: Deployment, phase: str) -> None:
        if deployment.id:
            self.history.saw_steps(key, deployment.id, steps_reached(deployment))
        # What a page shows of it: a poll that reads the same deployment wakes no page.
        signature = (deployment.id, phase, deployment.status_text, deployment.description,
                     deployment.groups)  # fmt: skip
        if self._seen_deployments.get(key) != signature:
            self._seen_deployments[key] = signature
            self.feed.publish([key])

    def job_handled(self, key: JobKey) -> None:
        if key == ALL:
            self.last_pass_at = self.clock()
            self.feed.publish(overview=True)
            return
        # Holds and rejections the daemon decides without an outcome (a parked spec, a
        # deferred change) show in its per-job state: wake the pages when that moved.
        view = self.daemon.metrics.job_state(key) if self.daemon is not None else None
        state = (view.state, view.held_reason, view.error_cause) if view is not None else None
        if self._seen_states.get(key) != state:
            self._seen_states[key] = state
            self.feed.publish([key])

    def revision_observed(self, revision: Revision | None) -> None:
        self.feed.publish(overview=True)

    def stream_changed(self, connected: bool) -> None:
        self.stream_connected = connected
        self.feed.publish(overview=True)

    def close(self) -> None:
        self.feed.close()
        logging.getLogger("reconciler").removeHandler(self.logs)
