"""Nomad's event stream → the work queue (the ``WatchListener`` of ``nomad_watch``).

An event only marks its job as due (``NOMAD``, ``ROLLOUT``); a reconnect or a
recovery means events may have been missed: a full pass follows; an index
going backwards means Nomad lost its state: every learnt index is forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from reconciler.core.ownership import read_ownership
from reconciler.daemon.checkout import Checkout
from reconciler.daemon.due import ALL, Reason, Submit
from reconciler.daemon.health import NomadHealth
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.nomad_watch import DeploymentChange, JobChange
from reconciler.errors import (
    NomadUnavailableError,
)
from reconciler.model import JobKey
from reconciler.nomad.objects import EventJob
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.engine import Reconciler

log = logging.getLogger("reconciler.daemon")


class NomadEvents:
    """Hears ``NomadWatch``; ``connected`` says whether the event stream is up."""

    def __init__(
        self, *, memory: JobMemory, checkout: Checkout, engine: Reconciler,
        metrics: ReconcilerMetrics, observer: DaemonObserver, health: NomadHealth,
        submit: Submit, stopping: Callable[[], bool],
    ) -> None:  # fmt: skip
        self._memory = memory
        self._checkout = checkout
        self.engine = engine
        self._metrics = metrics
        self._observer = observer
        self._health = health
        self._submit = submit
        self._stopping = stopping
        self.connected = False

    def is_relevant(self, key: JobKey, job: EventJob | None) -> bool:
        """Jobs we declare, own (stamped) or have registered: others are never touched."""
        declared = key in self._checkout.declared
        owned = job is not None and read_ownership(job.meta) is not None
        return declared or owned or self._memory.known_index(key) is not None

    def known_index(self, key: JobKey) -> int | None:
        return self._memory.known_index(key)

    def on_job_changed(self, change: JobChange) -> None:
        record = self._memory.get_or_create(change.key)
        if record.drift_at is None:
            record.drift_at = change.changed_at
        self._submit([change.key], Reason.NOMAD)

    def on_deployment(self, change: DeploymentChange) -> None:
        # The payload is the whole deployment: the rollout check uses it, no request.
        record = self._memory.get_or_create(change.key)
        record.deployment_event = change.deployment
        self._submit([change.key], Reason.ROLLOUT)
        if record.heal_timer is not None:
            self._submit([change.key], Reason.NOMAD)  # healing waits for this deployment

    def on_connection(self, connected: bool, *, reconnect: bool) -> None:
        self.connected = connected
        self._metrics.set_event_stream_connected(connected)
        self._observer.stream_changed(connected)
        if not connected:
            self._memory.drop_deployment_events()  # may miss updates from now on
            if self._stopping():
                return  # we closed it ourselves: shutting down is not an outage
            self._health.error(NomadUnavailableError("event stream disconnected"))
            return
        self._health.ok()
        if reconnect:  # events may have been missed while disconnected
            log.info("event stream reconnected; full resync")
            self._submit([ALL], Reason.RESYNC)

    def on_index_reset(self) -> None:
        # Nomad restarted without its state: the JobModifyIndexes we know are from a
        # history that is gone, and would filter out every new event as "not news".
        log.warning("Nomad's state was reset (its index went backwards); full resync")
        self._memory.forget_indexes()
        # The engine's per-index memory too: a new job may get an index an old one had.
        self.engine.memory.jobs.clear()
        self.engine.memory.submitted.clear()
        self._submit([ALL], Reason.RESYNC, urgent=True)

    def on_unavailable(self, exc: NomadUnavailableError) -> None:
        self._health.error(exc)

    def on_available(self) -> None:
        self._health.ok()
